"""How many optimizer updates the deep CNN needs: validation accuracy against update count.

    .venv/bin/python benchmarks/updates.py [--per-mood 24] [--size 48] [--batch 16]
                                           [--updates 12 24 48 96 192]

Trains the paper's Table 2 CNN (moodlab.training.architectures.deep, input centred
inside the model) with moodlab's optimizer (Adam 1e-3, runs.compiled) on the demo's
separable generated pictures (moodlab.demo_data.picture, true moods, no vote noise),
resized to --size px and scaled to [0, 1] as the pipeline does. A stratified 2/3
split trains for each update count (epochs = updates / steps per epoch, rounded up)
and the other 1/3 is scored; the plain CNN is run at the same counts for comparison.
The minimum the Training page warns below (moodlab.training.budget.MIN_UPDATES) is
the smallest count at which the deep CNN came within reach of the plain one here;
docs/benchmarks.md quotes the output.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pictures(per_mood: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    from moodlab import demo_data
    from moodlab.core import moods
    from moodlab.images.resize import square_crop

    images, labels = [], []
    for k, mood in enumerate(moods.names()):
        for n in range(per_mood):
            image = Image.open(io.BytesIO(demo_data.picture(mood, n))).convert("RGB")
            thumb = square_crop(image, 128).resize((size, size), Image.Resampling.LANCZOS)
            images.append(np.asarray(thumb, dtype=np.float32) / 255.0)
            labels.append(k)
    return np.stack(images), np.array(labels, dtype=np.int32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-mood", type=int, default=24)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--updates", type=int, nargs="+", default=[12, 24, 48, 96, 192])
    parser.add_argument("--archs", nargs="+", default=["deep", "plain"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()

    import keras
    from sklearn.model_selection import train_test_split

    from moodlab.training import architectures
    from moodlab.training.runs import compiled

    x, y = pictures(args.per_mood, args.size)
    print(f"load: {os.getloadavg()}, cores: {len(os.sched_getaffinity(0))}", flush=True)
    print("arch,seed,updates,epochs,val_accuracy,seconds", flush=True)
    for seed in args.seeds:
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=1 / 3, stratify=y, random_state=seed
        )
        steps = math.ceil(len(x_train) / args.batch)
        for arch in args.archs:
            for updates in args.updates:
                epochs = max(1, math.ceil(updates / steps))
                keras.utils.set_random_seed(seed)
                model = compiled(architectures.build(arch, args.size))
                start = time.perf_counter()
                model.fit(x_train, y_train, batch_size=args.batch, epochs=epochs, verbose=0)
                accuracy = float((model.predict(x_val, verbose=0).argmax(1) == y_val).mean())
                print(
                    f"{arch},{seed},{epochs * steps},{epochs},{accuracy:.3f},"
                    f"{time.perf_counter() - start:.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""Fine-tuning the backbone's top blocks: seconds per epoch per 100 images on this CPU.

    .venv/bin/python benchmarks/fine_tune.py [--images 100] [--blocks 1 4 16]
        [--epochs 3] [--batch-size 32]

--images of the demo's generated 320x240 pictures (moodlab.demo_data.picture, the
moods in turn), cropped to 224 px by the rule the kept features use
(moodlab.training.backbone.square_pixels). For each number of --blocks, the model a
fine-tuning transfer run trains (moodlab.training.fine_tune.model: the top blocks and
the head convolution trainable, BatchNormalization frozen, Adam at the fine-tuning
learning rate) is fitted for --epochs epochs of --batch-size, as a run fits it, each
epoch timed (wall and this process's CPU time, which the other work on a shared
machine does not inflate). The first epoch includes tracing the train step; the
figure docs/training.md quotes is the mean of the others, per 100 images. Frozen
features (what a transfer run without fine-tuning computes once per image, in the
features job's batches) are timed on the same images for comparison. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import keras
    import numpy as np

    from moodlab.core import moods
    from moodlab.demo_data import picture
    from moodlab.training import architectures, backbone, features, fine_tune
    from moodlab.training.precision import apply_policy, choose_policy
    from moodlab.training.runs import compiled

    names = moods.names()
    precision = apply_policy(choose_policy())
    pixels = np.stack(
        [backbone.square_pixels(picture(names[i % 8], i // 8)) for i in range(args.images)]
    )
    labels = np.arange(args.images, dtype=np.int32) % len(names)
    per_100 = 100 / args.images

    features.extract(pixels[:1])  # Lite0 built and its weights read, outside the timing
    started, cpu = time.monotonic(), time.process_time()
    for start in range(0, args.images, features.BATCH_SIZE):  # as the features job does
        features.extract(pixels[start : start + features.BATCH_SIZE])
    frozen = {
        "seconds_per_100_images": round((time.monotonic() - started) * per_100, 1),
        "cpu_seconds_per_100_images": round((time.process_time() - cpu) * per_100, 1),
    }

    report: dict = {
        "images": args.images,
        "precision": precision,
        "frozen_features": frozen,
        "fine_tune": {},
        "load_average_at_start": os.getloadavg()[0],
    }
    for blocks in args.blocks:
        keras.utils.set_random_seed(0)
        model = compiled(
            fine_tune.model(architectures.transfer_head(), blocks), fine_tune.LEARNING_RATE
        )
        data = fine_tune.image_data(pixels, labels, batch_size=args.batch_size, seed=0)
        epochs = []
        for _ in range(args.epochs):
            started, cpu = time.monotonic(), time.process_time()
            model.fit(data, epochs=1, verbose=0, shuffle=False)
            epochs.append((time.monotonic() - started, time.process_time() - cpu))
        later = epochs[1:] or epochs
        report["fine_tune"][blocks] = {
            "trainable_parameters": int(sum(np.prod(v.shape) for v in model.trainable_variables)),
            "first_epoch_seconds": round(epochs[0][0], 1),
            "seconds_per_epoch_per_100_images": round(
                float(np.mean([s for s, _ in later])) * per_100, 1
            ),
            "cpu_seconds_per_epoch_per_100_images": round(
                float(np.mean([c for _, c in later])) * per_100, 1
            ),
        }
        print(json.dumps({blocks: report["fine_tune"][blocks]}), file=sys.stderr)
    report["settings"] = vars(args)
    report["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

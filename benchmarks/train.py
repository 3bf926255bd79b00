"""Training speed and memory of moodlab's pipeline against a naive in-memory fit, in one run.

    .venv/bin/python benchmarks/train.py [--small 3200] [--large 32000] [--timed 640] [--epochs 2]

Both sides train the same model (the paper's Table 2 CNN, 128x128, batch 64) on the
same generated 128x128 PNG thumbnails:

- moodlab: moodlab.training.pipeline (tf.data: decode as read, uint8 file cache,
  shuffle, batch, scale, prefetch) under the policy moodlab picks on this machine
  (MOODLAB_PRECISION forces one, as in the app);
- naive: every image decoded into one float32 numpy array, then `model.fit(x, y)`
  under the float32 policy.

Throughput is timed on the first --timed images (images per second do not depend
on the data size, and on a CPU without bfloat16 a full epoch of 3,200 takes minutes)
over --epochs epochs after a warm-up epoch (which fills the cache and compiles the
step). The pipeline alone (no model) is timed too: it must feed
images faster than the model eats them. Peak RSS is measured in a fresh process per
data size: one full pass of the pipeline over every image (filling its cache) and
then 10 training steps. Each measurement runs in its own process; docs/benchmarks.md quotes
the output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH = 64
SIZE = 128


def make_thumbnails(folder: Path, count: int) -> None:
    """Smooth coloured pictures with stripes and some noise, as PNG (the thumbnail format)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(len(list(folder.glob("*.png"))), count):
        rng = np.random.default_rng(i)
        base = rng.uniform(40, 215, 3)
        stripes = np.sin(x * rng.uniform(0, 0.3) + y * rng.uniform(0, 0.3))[..., None] * 30
        pixels = base + stripes + rng.normal(0, 6, (SIZE, SIZE, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"))
        image.save(folder / f"{i:06d}.png", compress_level=1)


def inputs(folder: Path, count: int) -> tuple[list[str], np.ndarray]:
    paths = [str(folder / f"{i:06d}.png") for i in range(count)]
    return paths, np.arange(count, dtype=np.int32) % 8


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def deep_model():
    import keras

    from moodlab.training import architectures
    from moodlab.training.runs import compiled

    keras.utils.set_random_seed(0)
    return compiled(architectures.deep(SIZE))


def timed_fit(model, fit_args: dict, epochs: int, images: int) -> float:
    model.fit(**fit_args, epochs=1, verbose=0)  # warm-up: compile, fill the cache
    started = time.perf_counter()
    model.fit(**fit_args, epochs=epochs, verbose=0)
    return images * epochs / (time.perf_counter() - started)


def measure_moodlab(folder: Path, count: int, epochs: int) -> dict:
    from moodlab.training.pipeline import dataset
    from moodlab.training.precision import apply_policy, choose_policy

    policy = apply_policy(choose_policy(os.environ.get("MOODLAB_PRECISION", "")))
    paths, labels = inputs(folder, count)
    with tempfile.TemporaryDirectory() as cache:
        data = dataset(
            paths,
            labels,
            image_size=SIZE,
            batch_size=BATCH,
            shuffle=True,
            seed=0,
            cache_file=Path(cache) / "cache",
        )
        rate = timed_fit(deep_model(), {"x": data}, epochs, count)
        started = time.perf_counter()
        for _ in data:  # the pipeline alone, cache warm
            pass
        feed = count / (time.perf_counter() - started)
    return {"images_per_s": rate, "pipeline_images_per_s": feed, "policy": policy}


def measure_naive(folder: Path, count: int, epochs: int) -> dict:
    import keras
    from PIL import Image

    keras.mixed_precision.set_dtype_policy("float32")
    paths, labels = inputs(folder, count)
    x = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in paths])
    rate = timed_fit(deep_model(), {"x": x, "y": labels, "batch_size": BATCH}, epochs, count)
    return {"images_per_s": rate, "policy": "float32"}


def measure_memory(folder: Path, count: int) -> dict:
    from moodlab.training.pipeline import dataset
    from moodlab.training.precision import apply_policy, choose_policy

    apply_policy(choose_policy(os.environ.get("MOODLAB_PRECISION", "")))
    paths, labels = inputs(folder, count)
    with tempfile.TemporaryDirectory() as cache:
        data = dataset(
            paths,
            labels,
            image_size=SIZE,
            batch_size=BATCH,
            shuffle=True,
            seed=0,
            cache_file=Path(cache) / "cache",
        )
        for _ in data:  # every image through the pipeline once: the cache is complete
            pass
        deep_model().fit(data.repeat(), epochs=1, steps_per_epoch=10, verbose=0)
    return {"peak_rss_mb": peak_rss_mb()}


def child(what: str, folder: Path, count: int, epochs: int) -> dict:
    """Run one measurement in a fresh Python process (clean peak RSS, no shared state)."""
    command = [
        sys.executable,
        __file__,
        "--measure",
        what,
        "--folder",
        str(folder),
        "--count",
        str(count),
        "--epochs",
        str(epochs),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{what} at {count} images failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3200, help="the paper's data size")
    parser.add_argument("--large", type=int, default=32000)
    parser.add_argument("--timed", type=int, default=640, help="images the speed is timed on")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per side")
    parser.add_argument("--measure", choices=["moodlab", "naive", "memory"])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.measure:
        measure = {"moodlab": measure_moodlab, "naive": measure_naive}.get(args.measure)
        result = (
            measure(args.folder, args.count, args.epochs)
            if measure
            else measure_memory(args.folder, args.count)
        )
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="moodlab-bench-") as work:
        folder = Path(work) / "thumbs"
        started = time.perf_counter()
        make_thumbnails(folder, args.large)
        print(f"made {args.large} thumbnails in {time.perf_counter() - started:.0f} s", flush=True)
        ours = child("moodlab", folder, args.timed, args.epochs)
        print(f"moodlab pipeline: {ours}", flush=True)
        naive = child("naive", folder, args.timed, args.epochs)
        print(f"naive in-memory float32 fit: {naive}", flush=True)
        small = child("memory", folder, args.small, 0)
        large = child("memory", folder, args.large, 0)
        print(f"peak RSS: {small} at {args.small}, {large} at {args.large}", flush=True)

    # The paper's protocol: 10 folds of 60 epochs on 9/10 of the data, then a final model
    # of 60 epochs on all of it.
    passes = (10 * round(args.small * 0.9) + args.small) * 60
    estimate_h = passes / ours["images_per_s"] / 3600
    speedup = ours["images_per_s"] / naive["images_per_s"]
    feed_ratio = ours["pipeline_images_per_s"] / ours["images_per_s"]
    print(
        f"\ntraining throughput on {args.timed} images, Table 2 CNN, 128x128, batch {BATCH}:\n"
        f"  moodlab ({ours['policy']}): {ours['images_per_s']:.0f} images/s\n"
        f"  naive in-memory float32: {naive['images_per_s']:.0f} images/s\n"
        f"  speed-up: {speedup:.2f}x\n"
        f"  pipeline alone: {ours['pipeline_images_per_s']:.0f} images/s"
        f" ({feed_ratio:.0f}x what training consumes)\n"
        f"peak RSS: {small['peak_rss_mb']:.0f} MB at {args.small} images,"
        f" {large['peak_rss_mb']:.0f} MB at {args.large}"
        f" ({large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x)\n"
        f"naive needs {args.large * SIZE * SIZE * 3 * 4 / 2**30:.1f} GiB of float32 pixels"
        f" alone at {args.large} images\n"
        f"paper's full protocol ({passes:,} image passes): about {estimate_h:.1f} h here"
    )


if __name__ == "__main__":
    main()

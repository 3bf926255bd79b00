"""Kept backbone features: how many images a second, how big, and a transfer run on them.

    .venv/bin/python benchmarks/features.py [--per-mood 125] [--test-per-mood 10]
        [--batch-size 32] [--seed 0] [--cache-dir DIR] [--workspace DIR]

A workspace of its own (benchmarks/architectures.py's: the demo's generated 320x240
pictures, --per-mood of each mood, four agreeing annotators, one frozen snapshot;
1,000 images by default). Lite0 is built first and timed on its own; then the
features job's work (moodlab.training.features.compute: display copy, square crop
at 224 px, the frozen backbone in batches of --batch-size, one float16 .npy per
image) is timed over every image, as images per second (of wall time, and of this
process's CPU time, which other work on a shared machine does not inflate) and kB
kept per image.
Then one transfer run with the settings the Training form fits to that snapshot
(moodlab.training.presets.fitted: 10 folds here) on the kept features, timed from
start to end, with its folds' time (the cross-validation) and the final model's apart.
With --cache-dir the pictures and their features are kept in DIR (as the demo keeps
its own): a second run with the same DIR finds every image's features kept, so
its features part computes none and the transfer run is timed on kept features alone.
--workspace DIR times everything again on the workspace an earlier run left in DIR
(its "workspace" in the JSON), its features kept: the transfer run alone, on kept
features, without building the workspace again.
Prints one JSON object; docs/benchmarks.md ("Kept features") quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from architectures import existing_workspace, train, workspace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-mood", type=int, default=125)
    parser.add_argument("--test-per-mood", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--workspace", type=Path, default=None)
    args = parser.parse_args()

    started = time.monotonic()
    settings, database, lead, snapshot = (
        existing_workspace(args.workspace)
        if args.workspace
        else workspace(args.per_mood, args.test_per_mood, args.seed, args.cache_dir)
    )
    workspace_seconds = time.monotonic() - started
    from moodlab.core.storage import ContentStore
    from moodlab.demo_data import keep_features
    from moodlab.training import features, presets

    started = time.monotonic()
    features._extractor()  # TensorFlow's import, Lite0's build and its weights read
    build_seconds = time.monotonic() - started

    shas = features.all_images(database)
    todo = len(features.missing(ContentStore(settings.data_dir), shas))
    load_at_start = os.getloadavg()[0]
    started, cpu_started = time.monotonic(), time.process_time()
    failed = features.compute(settings, shas, batch_size=args.batch_size)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    store = ContentStore(settings.data_dir)
    sizes = [features.feature_path(store, sha).stat().st_size for sha in shas]
    if args.cache_dir is not None:
        keep_features(settings, shas)

    params = presets.fitted(snapshot.id, snapshot.train_counts)
    run_load = os.getloadavg()[0]
    run = train(settings, database, lead, params)
    print(
        json.dumps(
            {
                "images": len(shas),
                "workspace": str(settings.data_dir.parent),
                "workspace_seconds": round(workspace_seconds, 1),
                "backbone_build_seconds": round(build_seconds, 1),
                "features": {
                    "computed": todo,
                    "kept_before": len(shas) - todo,
                    "seconds": round(seconds, 1),
                    "images_per_second": round(todo / seconds, 1) if todo else None,
                    "cpu_seconds": round(cpu_seconds, 1),
                    "images_per_cpu_second": round(todo / cpu_seconds, 1) if todo else None,
                    "failed": len(failed),
                    "kB_per_image": round(sum(sizes) / len(sizes) / 1000, 2),
                    "load_average_at_start": load_at_start,
                    "load_average_at_end": os.getloadavg()[0],
                },
                "transfer_run": {
                    "train_images": sum(snapshot.train_counts.values()),
                    "test_images": sum(snapshot.test_counts.values()),
                    "params": {
                        k: getattr(params, k)
                        for k in ("arch", "folds", "epochs", "batch_size", "image_size")
                    },
                    **run,
                    "load_average_at_start": run_load,
                    "load_average_at_end": os.getloadavg()[0],
                },
                "settings": vars(args),
            },
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()

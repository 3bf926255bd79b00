"""`moodlab backbone check`: the pretrained backbone's self-test on a lab's own photographs."""

from __future__ import annotations

import argparse
from pathlib import Path

from moodlab.cli.common import FailedWithReport, Report, Subcommands, command, group
from moodlab.core.errors import MoodlabError


def register(sub: Subcommands) -> None:
    backbone = group(sub, "backbone", "the pretrained EfficientNet-Lite0 backbone")
    check_ = command(
        backbone,
        "check",
        "each image's top-5 ImageNet classes (index, name, probability): the backbone's"
        " self-test after install",
        check,
    )
    check_.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    features_ = command(
        backbone,
        "features",
        "keep the backbone features of every image that has none (a job run here;"
        " resumes where it stopped)",
        features,
    )
    features_.add_argument("--batch-size", type=int, default=32)


def features(args: argparse.Namespace) -> Report:
    from moodlab.cli.common import run_here
    from moodlab.training.actions import start_features
    from moodlab.training.features import FeaturesParams

    return run_here(start_features, params=FeaturesParams(batch_size=args.batch_size))


def check(args: argparse.Namespace) -> Report | None:
    from moodlab.core.config import Settings
    from moodlab.training.backbone import check as check_images

    report = check_images(args.images, Settings.from_env())
    refused = [row for row in report["images"] if "error" in row]
    if not args.json:
        for row in report["images"]:
            if "error" in row:
                continue
            guesses = ", ".join(
                f"{g['name']} ({g['index']}) {g['probability']:.3f}" for g in row["top5"]
            )
            print(f"{row['image']}: {guesses}")
    if refused:
        message = f"{len(refused)} of {len(report['images'])} images refused: " + "; ".join(
            row["error"] for row in refused
        )
        # The images that were read are shown all the same; the exit says some were not.
        raise FailedWithReport(message, report) if args.json else MoodlabError(message)
    return report if args.json else None

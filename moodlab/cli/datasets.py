"""`moodlab dataset ...`: build (freeze), list, export, disputed images, tie-breaks."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from moodlab.cli.common import (
    Report,
    Subcommands,
    actor,
    command,
    detachable,
    group,
    open_database,
    run_here,
)

# Each command imports its services when it runs: a command imports only what it needs.

LEAVE_OUT = ("leave-out", "leave out", "none")


def register(sub: Subcommands) -> None:
    from moodlab.datasets.snapshots import Rules

    dataset = group(sub, "dataset", "build, list and export frozen datasets")
    build_ = command(dataset, "build", "freeze a snapshot: train 3-of-4, test 2-of-4", build)
    build_.add_argument("--per-mood-cap", type=int, help="train images per mood (default: balance)")
    build_.add_argument("--test-per-mood", type=int, help="test images per mood (default: all)")
    build_.add_argument("--seed", type=int, default=Rules().seed)
    build_.add_argument(
        "--uncapped",
        action="store_true",
        help="every train-tier image, unbalanced (no per-mood cap)",
    )
    command(dataset, "list", "every snapshot", list_snapshots)
    export_ = command(dataset, "export", "a zip in ImageFolder layout (as a job, run here)", export)
    detachable(export_)
    export_.add_argument("id", type=int)
    export_.add_argument("out", metavar="OUT.zip")
    sheet = command(dataset, "datasheet", "a snapshot's datasheet in Markdown", datasheet)
    sheet.add_argument("id", type=int)
    sheet.add_argument("--out", metavar="FILE.md", help="write it here instead of stdout")
    command(dataset, "disputed", "images with a 2-2 tie", disputed)
    tie = command(
        dataset, "break-tie", "decide a tie: one of the tied moods, or leave-out", break_tie
    )
    tie.add_argument("image_id", type=int)
    tie.add_argument("mood", help="a tied mood, or leave-out")


def build(args: argparse.Namespace) -> Report:
    from moodlab.datasets import snapshots

    settings, database = open_database()
    rules = snapshots.Rules(
        per_mood_cap=args.per_mood_cap,
        test_per_mood=args.test_per_mood,
        seed=args.seed,
        uncapped=args.uncapped,
    )
    with database.session() as session:
        frozen = snapshots.freeze_plan(
            session=session, actor=actor(), settings=settings, rules=rules
        )
        for warning in frozen.plan.warnings:
            print(f"moodlab: warning: {warning}", file=sys.stderr)
        return snapshots.snapshot_summary(frozen.snapshot) | {
            "existing": frozen.existing,
            "warnings": frozen.plan.warnings,
        }


def list_snapshots(args: argparse.Namespace) -> Report:
    from moodlab.datasets import snapshots

    _, database = open_database()
    with database.session() as session:
        found = snapshots.list_snapshots(session=session, actor=actor())
        return {"snapshots": [snapshots.snapshot_summary(s) for s in found]}


def export(args: argparse.Namespace) -> Report:
    from moodlab.datasets.actions import start_export
    from moodlab.datasets.export import ExportParams

    return run_here(
        start_export, params=ExportParams(snapshot_id=args.id, out=args.out), detach=args.detach
    )


def datasheet(args: argparse.Namespace) -> Report | None:
    from pathlib import Path

    from moodlab.core.storage import atomic_write
    from moodlab.datasets.datasheet import snapshot_datasheet

    _, database = open_database()
    with database.session() as session:
        text = snapshot_datasheet(session=session, actor=actor(), snapshot_id=args.id)
    if args.out is None:
        if args.json:
            return {"id": args.id, "datasheet": text}
        sys.stdout.write(text)
        return None
    out = Path(args.out).expanduser()
    with atomic_write(out) as handle:
        handle.write(text.encode())
    return {"id": args.id, "output": str(out.resolve())}


def disputed(args: argparse.Namespace) -> Report:
    from moodlab.datasets import ties

    settings, database = open_database()
    with database.session() as session:
        found = ties.disputed_images(session=session, actor=actor(), settings=settings)
        return {"disputed": [asdict(d) for d in found]}


def break_tie(args: argparse.Namespace) -> Report:
    from moodlab.datasets import ties

    settings, database = open_database()
    mood = None if args.mood.strip().lower() in LEAVE_OUT else args.mood
    with database.session() as session:
        decision = ties.break_tie(
            session=session, actor=actor(), settings=settings, image_id=args.image_id, mood=mood
        )
        return {"image_id": decision.image_id, "mood": decision.mood or "left out"}

"""The paper's CNN, the plain CNN and transfer on one snapshot and the same folds.

    .venv/bin/python benchmarks/architectures.py [--per-mood 16] [--test-per-mood 4]
        [--folds 3] [--epochs 60] [--batch-size 8] [--scratch-size 64] [--seed 0]

A workspace of its own in a temp folder: the demo's generated pictures
(moodlab.demo_data.picture, 320x240 JPEGs whose colour and texture carry the mood),
--per-mood of each mood, four annotators who all agree (so every picture is in the
train tier; --test-per-mood of each mood overflow into the test set), one frozen
snapshot. Then, as `moodlab train` runs them (the same jobs, the same seeded
stratified folds): transfer at 224 px (its backbone features made first, timed on
their own as images per second), the plain CNN and the paper's Table 2 CNN at
--scratch-size px (the paper's is 128; the default 64 keeps the two from-scratch
runs to minutes on a 2-core CPU), each with --folds, --epochs and --batch-size
(the defaults give the deep CNN about 480 updates a fold, above the 400 it needs:
docs/benchmarks.md, "Optimizer updates"). Prints one JSON object: per architecture
its CV scores and mean, test accuracy, updates per fold and seconds;
docs/benchmarks.md ("Three architectures") quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def workspace(
    per_mood: int, test_per_mood: int, seed: int, cache_dir: Path | None = None
) -> tuple[Any, Any, Any, Any]:
    """A fresh workspace in a temp folder: per_mood generated pictures of each mood,
    all four annotators agreeing on each, one frozen snapshot that keeps test_per_mood
    of each mood out of training. Returns (settings, database, lead, snapshot).

    With ``cache_dir`` the pictures and their backbone features are kept there, as the
    demo keeps its own (moodlab.demo_data), and the next workspace restores them."""
    folder = Path(tempfile.mkdtemp(prefix="moodlab-benchmark-"))
    os.environ.update(
        {
            "MOODLAB_DATABASE_URL": f"sqlite:///{folder / 'lab.sqlite'}",
            "MOODLAB_DATA_DIR": str(folder / "data"),
            "MOODLAB_CACHE_DIR": str(cache_dir or folder / "cache"),
            "MOODLAB_FEATURES_ON_ARRIVAL": "0",
        }
    )
    from moodlab.core import auth, moods
    from moodlab.core.auth import Actor
    from moodlab.core.config import Settings
    from moodlab.core.db import database_from_settings
    from moodlab.core.migrations import upgrade
    from moodlab.core.models import Role
    from moodlab.datasets import snapshots
    from moodlab.demo_data import kept_pictures, restore_features
    from moodlab.images.intake import Intake, Provenance
    from moodlab.votes import annotation

    settings = Settings.from_env()
    database = database_from_settings(settings)
    upgrade(database)
    lead = Actor.command_line()
    with database.session() as session:
        people = [
            Actor.of(
                auth.create_user(
                    session=session,
                    actor=lead,
                    name=f"annotator{i}",
                    role=Role.ANNOTATOR,
                    password=secrets.token_urlsafe(),
                )
            )
            for i in range(4)
        ]
    intake = Intake(replace(settings, near_duplicate_distance=0), database)
    pictures, _ = kept_pictures(settings, per_mood)
    for mood in moods.names():
        for n in range(per_mood):
            image = intake.add_bytes(pictures[mood, n], Provenance(source=f"{mood}-{n}"))
            for person in people:
                with database.session() as session:
                    annotation.answer(session=session, actor=person, image_id=image, mood=mood)
    intake.flush()
    if cache_dir is not None:
        from moodlab.training import features

        restore_features(settings, features.all_images(database))
    with database.session() as session:
        rules = snapshots.Rules(per_mood_cap=per_mood - test_per_mood, seed=seed)
        snapshot = snapshots.freeze(session=session, actor=lead, settings=settings, rules=rules)
    return settings, database, lead, snapshot


def existing_workspace(folder: Path) -> tuple[Any, Any, Any, Any]:
    """The workspace an earlier ``workspace`` left in ``folder`` (its settings, database,
    lead and newest snapshot), to time a run again without building it again."""
    if not (folder / "lab.sqlite").is_file():
        raise SystemExit(f"{folder}: no workspace of this benchmark's there (no lab.sqlite)")
    os.environ.update(
        {
            "MOODLAB_DATABASE_URL": f"sqlite:///{folder / 'lab.sqlite'}",
            "MOODLAB_DATA_DIR": str(folder / "data"),
            "MOODLAB_CACHE_DIR": str(folder / "cache"),
            "MOODLAB_FEATURES_ON_ARRIVAL": "0",
        }
    )
    from sqlalchemy import select

    from moodlab.core.auth import Actor
    from moodlab.core.config import Settings
    from moodlab.core.db import database_from_settings
    from moodlab.core.models import Snapshot

    settings = Settings.from_env()
    database = database_from_settings(settings)
    with database.session() as session:
        snapshot = session.scalars(select(Snapshot).order_by(Snapshot.id.desc())).first()
        session.expunge_all()
    return settings, database, Actor.command_line(), snapshot


def train(settings: Any, database: Any, lead: Any, params: Any) -> dict[str, Any]:
    """One run as `moodlab train` runs it, here; its scores and wall time."""
    from sqlalchemy import select

    from moodlab.core.models import Job
    from moodlab.job_kinds import KINDS
    from moodlab.jobs.worker import start_here
    from moodlab.training.actions import start_training

    started, cpu_started = time.monotonic(), time.process_time()
    job = start_here(
        start_training, settings=settings, database=database, actor=lead, params=params, kinds=KINDS
    )
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    result = job.result or {}
    with database.session() as session:
        parts = list(session.scalars(select(Job).where(Job.parent_id == job.id)))
    return {
        "status": job.status,
        "error": job.error,
        "cv_scores": [round(s, 3) for s in result.get("cv_scores", [])],
        "cv_mean": result.get("cv_mean"),
        "test_accuracy": result.get("test_accuracy"),
        "updates_per_fold": result.get("updates_per_fold"),
        "seconds": round(seconds, 1),
        # CPU time of this process (every thread): what the run costs, however busy
        # the machine's other work leaves its cores.
        "cpu_seconds": round(cpu_seconds, 1),
        # Each part's own wall time: the folds (the cross-validation) and the final
        # model (trained on every image, evaluated, saved).
        "cv_seconds": round(sum(_seconds(p) for p in parts if p.kind == "train_fold"), 1),
        "final_seconds": round(sum(_seconds(p) for p in parts if p.kind == "train_final"), 1),
    }


def _seconds(job: Any) -> float:
    return (job.finished_at - job.started_at).total_seconds() if job.finished_at else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-mood", type=int, default=16)
    parser.add_argument("--test-per-mood", type=int, default=4)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--scratch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings, database, lead, snapshot = workspace(args.per_mood, args.test_per_mood, args.seed)
    from moodlab.training import features
    from moodlab.training.runs import TrainParams

    snapshot_id = snapshot.id
    images = sum(snapshot.train_counts.values()) + sum(snapshot.test_counts.values())

    started = time.monotonic()
    features.compute(settings, features.all_images(database))
    feature_seconds = time.monotonic() - started

    report = {
        "pictures": images,
        "snapshot": {"train": sum(snapshot.train_counts.values()), "id": snapshot_id},
        "features": {
            "images": images,
            "seconds": round(feature_seconds, 1),
            "images_per_second": round(images / feature_seconds, 1),
            "note": "includes building Lite0 and importing TensorFlow once",
        },
        "runs": {},
        "load_average_at_start": os.getloadavg()[0],
    }
    for arch, size in (
        ("transfer", 224),
        ("plain", args.scratch_size),
        ("deep", args.scratch_size),
    ):
        params = TrainParams(
            snapshot_id=snapshot_id,
            arch=arch,
            folds=args.folds,
            epochs=args.epochs,
            batch_size=args.batch_size,
            image_size=size,
            seed=args.seed,
        )
        report["runs"][arch] = train(settings, database, lead, params)
        print(json.dumps({arch: report["runs"][arch]}), file=sys.stderr)
    report["settings"] = vars(args)
    report["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()

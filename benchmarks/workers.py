"""A cross-validated training run's wall time with 1 worker and with N workers; or, with
``--engine``, the job engine's pick-up latency and throughput (benchmarks/job_engine.py).

    .venv/bin/python benchmarks/workers.py [--workers 1 2] [--folds 4] [--epochs 8]
        [--size 48] [--batch 16] [--arch deep] [--per-mood 24]
    .venv/bin/python benchmarks/workers.py --engine postgresql+psycopg://USER@HOST/postgres

Builds a workspace of its own in a temp folder (SQLite; the demo's generated pictures,
every annotator voting the mood each was drawn for, one frozen snapshot), then for each
worker count starts that many `python -m moodlab worker` processes, runs a one-epoch
warm-up run (so each worker has imported TensorFlow and built its graphs once) and then
the timed run: wall time from queueing the run to its end, the CPU seconds the workers
used meanwhile, and each part's worker and time from its job row. One JSON line per
worker count; docs/benchmarks.md quotes the output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from moodlab.core import auth, moods  # noqa: E402
from moodlab.core.auth import Actor  # noqa: E402
from moodlab.core.config import Settings  # noqa: E402
from moodlab.core.db import Database  # noqa: E402
from moodlab.core.migrations import upgrade  # noqa: E402
from moodlab.core.models import Image, Job, JobStatus, Role, Worker  # noqa: E402


def workspace(root: Path, per_mood: int) -> tuple[Settings, Database, Actor, int]:
    from moodlab.datasets import snapshots
    from moodlab.demo_data import picture
    from moodlab.images.actions import start_import
    from moodlab.images.importer import ImportParams
    from moodlab.job_kinds import KINDS
    from moodlab.jobs.worker import start_here
    from moodlab.votes import annotation

    os.environ.update(
        {
            "MOODLAB_DATABASE_URL": f"sqlite:///{root / 'moodlab.sqlite'}",
            "MOODLAB_DATA_DIR": str(root / "data"),
            "MOODLAB_MUSIC_DIR": str(root / "music"),
            "MOODLAB_WORKER_POLL_SECONDS": "0.2",
        }
    )
    settings = Settings.from_env()
    database = Database(settings.database_url)
    upgrade(database)
    with database.session() as session:
        people = [
            Actor.of(
                auth.create_user(
                    session=session,
                    actor=Actor.command_line(),
                    name=name,
                    role=role,
                    password=secrets.token_urlsafe(),
                )
            )
            for name, role in [("lead", Role.LEAD)] + [(f"a{i}", Role.ANNOTATOR) for i in range(4)]
        ]
    lead, annotators = people[0], people[1:]
    truth = {}
    folder = root / "pictures"
    folder.mkdir()
    for mood in moods.names():
        for n in range(per_mood):
            data = picture(mood, n)
            truth[hashlib.sha256(data).hexdigest()] = mood
            (folder / f"{mood.lower()}-{n:03d}.jpg").write_bytes(data)
    start_here(
        start_import,
        settings=settings,
        database=database,
        actor=lead,
        params=ImportParams(path=str(folder)),
        kinds=KINDS,
    )
    with database.session() as session:
        images = session.execute(select(Image.id, Image.sha256)).all()
    for image_id, sha in images:
        for person in annotators:
            with database.session() as session:
                annotation.answer(session=session, actor=person, image_id=image_id, mood=truth[sha])
    with database.session() as session:
        rules = snapshots.Rules(seed=0)
        snapshot = snapshots.freeze(session=session, actor=lead, settings=settings, rules=rules)
        return settings, database, lead, snapshot.id


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(settings: Settings, database: Database, lead: Actor, params) -> Job:
    from moodlab.training.actions import start_training

    with database.session() as session:
        run_id = start_training(session=session, actor=lead, settings=settings, params=params).id
    while True:
        with database.session() as session:
            job = session.get(Job, run_id)
            if JobStatus(job.status).finished:
                return job
        time.sleep(0.2)


def measure(settings, database, lead, snapshot_id, workers: int, args) -> dict:
    from moodlab.training.runs import TrainParams

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "moodlab", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while True:  # every worker registered
            with database.session() as session:
                alive = session.scalar(select(func.count()).where(Worker.stopped_at.is_(None)))
            if alive >= workers:
                break
            time.sleep(0.2)
        shape = {
            "snapshot_id": snapshot_id,
            "arch": args.arch,
            "folds": args.folds,
            "batch_size": args.batch,
            "image_size": args.size,
        }
        warm = run(settings, database, lead, TrainParams(**shape, epochs=1))
        assert warm.status == JobStatus.SUCCEEDED, warm.error
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        started = time.monotonic()
        done = run(settings, database, lead, TrainParams(**shape, epochs=args.epochs))
        wall = time.monotonic() - started
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        assert done.status == JobStatus.SUCCEEDED, done.error
        with database.session() as session:
            parts = session.scalars(select(Job).where(Job.parent_id == done.id)).all()
        return {
            "workers": workers,
            "wall_s": round(wall, 1),
            "worker_cpu_s": round(cpu, 1),
            "cv_mean": round(done.result["cv_mean"], 3),
            "load_1min": round(os.getloadavg()[0], 1),
            "parts": [
                {
                    "kind": p.kind,
                    "fold": p.params.get("fold"),
                    "worker": p.worker.rsplit(":", 2)[-2],
                    "seconds": round((p.finished_at - p.started_at).total_seconds(), 1),
                }
                for p in parts
            ],
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--arch", default="deep")
    parser.add_argument("--per-mood", type=int, default=24)
    parser.add_argument(
        "--engine",
        metavar="POSTGRES_URL",
        help="measure the job engine against the polling runner on this server instead",
    )
    args = parser.parse_args()
    if args.engine:
        from benchmarks.job_engine import measure as measure_engine

        print(json.dumps({"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0))}))
        for row in measure_engine(args.engine):
            print(json.dumps(row), flush=True)
        return
    print(
        json.dumps(
            {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), **vars(args)}
        ),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="moodlab-bench-workers-") as folder:
        settings, database, lead, snapshot_id = workspace(Path(folder), args.per_mood)
        for workers in args.workers:
            print(
                json.dumps(measure(settings, database, lead, snapshot_id, workers, args)),
                flush=True,
            )


if __name__ == "__main__":
    main()

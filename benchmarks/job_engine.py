"""Pick-up latency and throughput of the job engine, against the polling runner.

Run through `benchmarks/workers.py --engine POSTGRES_URL` (docs/benchmarks.md, "The job
engine"). On a fresh database of that server, for each runner (``polling``: the
embedded runner, which polls the jobs table every MOODLAB_WORKER_POLL_SECONDS, as every
worker did before Procrastinate; ``engine``: Procrastinate, woken by LISTEN/NOTIFY):

- pick-up latency: one idle worker; a job queued at a random moment, 20 times; the
  time from its commit to its start, both on the database's clock;
- throughput: 1,000 tiny jobs queued at once, then 1 (or 4) worker processes started;
  jobs a second from the first job's start to the last one's end.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.dbclock import database_time
from moodlab.core.migrations import upgrade
from moodlab.core.models import Job, JobStatus, Role, Worker
from moodlab.jobs import queue
from moodlab.jobs.context import JobParams
from moodlab.jobs.kind import JobKind

LATENCY_SAMPLES = 20
TINY_JOBS = 1000


@dataclass
class TinyParams(JobParams):
    """A job that does nothing: what is measured is the engine around it."""

    KIND = "bench_tiny"
    TITLE = "tiny job"
    ROLE = Role.LEAD


KINDS = {"bench_tiny": JobKind("bench_tiny", TinyParams, lambda ctx, params: {})}


def _worker(url: str, runner: str) -> None:
    from moodlab.jobs.worker import JobWorker

    settings = Settings.from_env({"MOODLAB_DATABASE_URL": url})
    worker = JobWorker(settings, Database(url), kinds=KINDS)
    worker.install_signal_handlers()
    if runner == "engine":
        worker.run()
    else:  # the polling runner, as every worker was before the engine
        worker._register()
        worker._run_embedded(once=False)


def _start(url: str, runner: str, count: int) -> list[multiprocessing.Process]:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker, args=(url, runner)) for _ in range(count)]
    for proc in procs:
        proc.start()
    return procs


def _stop(procs: list[multiprocessing.Process]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=60)


def _queue(database: Database, settings: Settings, count: int) -> list[int]:
    with database.session() as session:
        return [
            queue.enqueue(
                session=session, actor=Actor.command_line(), settings=settings, params=TinyParams()
            ).id
            for _ in range(count)
        ]


def _all_done(database: Database) -> bool:
    with database.session() as session:
        left = session.scalar(
            select(func.count(Job.id)).where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        )
    return left == 0


def _wait(database: Database, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while not _all_done(database):
        if time.monotonic() > deadline:
            raise TimeoutError("the jobs did not finish")
        time.sleep(0.2)


def _clear(database: Database) -> None:
    with database.session() as session:
        session.execute(text("DELETE FROM jobs"))
        session.execute(text("DELETE FROM procrastinate_jobs"))
        session.execute(text("DELETE FROM workers"))


def _wait_for_worker(database: Database, timeout: float = 120.0) -> None:
    """Until the worker has registered (imported, connected): its start-up is not pick-up."""
    deadline = time.monotonic() + timeout
    while True:
        with database.session() as session:
            if session.scalar(select(func.count(Worker.name))):
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not start")
        time.sleep(0.2)


def latency(database: Database, settings: Settings, url: str, runner: str) -> dict[str, Any]:
    procs = _start(url, runner, 1)
    try:
        _wait_for_worker(database)
        time.sleep(2)  # listening by now, its first fetch done
        delays = []
        rng = np.random.default_rng(0)
        for _ in range(LATENCY_SAMPLES):
            time.sleep(rng.uniform(0.2, 1.2))
            with database.session() as session:
                job = queue.enqueue(
                    session=session,
                    actor=Actor.command_line(),
                    settings=settings,
                    params=TinyParams(),
                )
                job_id = job.id
            with database.session() as session:
                queued_at = database_time(session)
            _wait(database, timeout=60)
            with database.session() as session:
                started = session.scalar(select(Job.started_at).where(Job.id == job_id))
            delays.append((started - queued_at).total_seconds())
    finally:
        _stop(procs)
    in_order = [round(1000 * d) for d in delays]
    delays.sort()
    return {
        "median_ms": round(1000 * statistics.median(delays), 1),
        "p95_ms": round(1000 * delays[int(0.95 * (len(delays) - 1))], 1),
        "max_ms": round(1000 * max(delays), 1),
        "samples_ms_in_order": in_order,
    }


def throughput(
    database: Database, settings: Settings, url: str, runner: str, workers: int
) -> dict[str, Any]:
    _queue(database, settings, TINY_JOBS)
    started = time.monotonic()
    procs = _start(url, runner, workers)
    try:
        _wait(database)
    finally:
        wall = time.monotonic() - started
        _stop(procs)
    with database.session() as session:
        first, last = session.execute(
            select(func.min(Job.started_at), func.max(Job.finished_at))
        ).one()
        tries = session.scalar(select(func.max(Job.attempts)))
    busy = (last - first).total_seconds()
    return {
        "workers": workers,
        "jobs_per_s": round(TINY_JOBS / busy, 1),
        "busy_s": round(busy, 1),
        "wall_s_with_start_up": round(wall, 1),
        "max_attempts_seen": tries,
    }


def measure(server_url: str) -> list[dict[str, Any]]:
    """Every measurement on a fresh database of ``server_url``'s server (dropped after)."""
    name = f"moodlab_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    settings = Settings.from_env({"MOODLAB_DATABASE_URL": url})
    rows = []
    try:
        upgrade(database)
        for runner in ("polling", "engine"):
            rows.append({"runner": runner, "pick_up": latency(database, settings, url, runner)})
            _clear(database)
            for workers in (1, 4):
                rows.append(
                    {"runner": runner, **throughput(database, settings, url, runner, workers)}
                )
                _clear(database)
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rows

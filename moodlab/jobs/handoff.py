"""A command's job handed to a warm worker on this machine, and waited for.

`moodlab video make` queues its job as every command does. When a worker on this
machine is alive and idle, the command waits for that worker to run the job (it
has TensorFlow and the model loaded already) instead of importing them itself, and
prints the job's progress. The job is the same row either way, so the result, the
errors and the exit code are the same. If no worker has taken the job a few poll
intervals later, or its worker stops heartbeating, the command claims it and runs
it here; Ctrl-C cancels it (docs/cli.md, "Video").
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Job, JobStatus, Worker
from moodlab.jobs import queue
from moodlab.jobs.kind import JobKind

DONE = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
WAIT_POLL_SECONDS = 0.2  # how often the command reads the job while a worker runs it


def idle_worker(*, session: Session, settings: Settings) -> Worker | None:
    """A worker on this machine that heartbeat lately and runs no job; None if none.

    Only this machine's: the job names files by their paths here.
    """
    within = timedelta(
        seconds=max(3 * settings.worker_poll_seconds, settings.job_heartbeat_seconds)
    )
    host = socket.gethostname()
    live = queue.live_workers(session=session, within=within)
    return next((w for w in live if w.host == host and w.current_job_id is None), None)


def run_on_worker(
    start: Callable[..., Job],
    *,
    settings: Settings,
    database: Database,
    actor: Actor,
    params: object,
    kinds: Mapping[str, JobKind],
    say: Callable[[str], None],
) -> Job:
    """``start`` queues the job; an idle worker here runs it, else this process does (with
    its handler from ``kinds``, moodlab.job_kinds.KINDS)."""
    here = None
    with database.session() as session:
        job = start(session=session, actor=actor, settings=settings, params=params)
        worker = idle_worker(session=session, settings=settings)
        worker_name = worker.name if worker else None
        if worker_name is None:  # claimed as it is queued: no worker takes it first
            from moodlab.jobs.worker import here_worker  # what the work needs: only now

            here = here_worker(settings, database, kinds=kinds)
            queue.take(job, worker=here.name)
        job_id = job.id
    if here is not None:
        from moodlab.jobs.worker import run_taken

        return run_taken(here, job_id)
    say(f"job {job_id}: handed to the idle worker {worker_name} (--here runs it in this process)")
    try:
        return wait_for(settings, database, job_id, kinds=kinds, say=say)
    except KeyboardInterrupt:
        with database.session() as session:
            queue.request_cancel(session=session, actor=actor, job_id=job_id)
        raise


def wait_for(
    settings: Settings,
    database: Database,
    job_id: int,
    *,
    kinds: Mapping[str, JobKind],
    say: Callable[[str], None],
) -> Job:
    """Until the job is done; a job no worker takes, or whose worker went silent, runs here."""
    from moodlab.jobs.worker import try_run_here

    grace = 3 * settings.worker_poll_seconds + 2.0
    stale_after = timedelta(seconds=settings.job_stale_seconds)
    stale_after_s = settings.job_stale_seconds
    recovered_at = 0.0  # the stale check compares heartbeats on the database's clock
    taken_at = time.monotonic()  # when the job was last seen taken (or queued)
    shown = ""
    while True:
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None, f"job {job_id} vanished"
            status, heartbeat = job.status, job.heartbeat_at
            line = f"{round(100 * job.progress)}% {job.message}" if job.message else ""
            if status in DONE:
                session.expunge(job)
                return job
        if line and line != shown:
            say(f"job {job_id}: {line}")
            shown = line
        if status == JobStatus.RUNNING:
            taken_at = time.monotonic()
            if heartbeat is not None and time.monotonic() - recovered_at > stale_after_s / 4:
                recovered_at = time.monotonic()
                with database.session() as session:  # re-queued, or failed: no tries left
                    queue.recover_stale(session=session, stale_after=stale_after)
        elif time.monotonic() - taken_at > grace:
            say(f"job {job_id}: no worker took it; running it here")
            done = try_run_here(settings, database, job_id, kinds=kinds)
            if done is not None:
                return done
            taken_at = time.monotonic()  # a worker got it first: wait for that one
        time.sleep(WAIT_POLL_SECONDS)

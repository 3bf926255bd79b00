"""The job table: long work (crawls, imports, training, videos) queued for a worker.

A page or the CLI calls ``enqueue``; a worker process claims the job, runs its
handler with a JobContext for progress, logs and cancellation, and records the
outcome. A job whose worker stopped heartbeating is re-queued once, then failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from moodlab.auth import Actor, require_role
from moodlab.errors import MoodlabError, NotFound
from moodlab.models import Job, JobStatus, Role, Worker
from moodlab.timeutil import utcnow

# A job is tried at most this often: the first run and one re-queue after its
# worker died. A job that kills its worker twice (say, out of memory) fails.
MAX_ATTEMPTS = 2
# The log tail kept in the row: enough for the last few hundred lines.
LOG_TAIL_CHARS = 20_000


class JobCancelled(Exception):
    """Raised inside a handler when the job's cancel flag is set."""


class WorkerStopping(Exception):
    """Raised inside a handler when its worker is shutting down; the job is re-queued."""


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    role: Role  # the least role that may start it; the lead may start any
    run: Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]


_KINDS: dict[str, JobKind] = {}


def register(name: str, *, title: str, role: Role = Role.LEAD):
    """Decorator: make ``run(ctx, params) -> result`` the handler of job kind ``name``."""

    def decorator(run):
        _KINDS[name] = JobKind(name=name, title=title, role=role, run=run)
        return run

    return decorator


def kinds() -> dict[str, JobKind]:
    import moodlab.job_kinds  # noqa: F401  (registers every handler)

    return dict(_KINDS)


def kind(name: str) -> JobKind:
    try:
        return kinds()[name]
    except KeyError:
        raise MoodlabError(
            f"unknown job kind {name!r}: expected one of {', '.join(sorted(_KINDS))}"
        ) from None


# --- the services pages and the CLI call --------------------------------------------------


def enqueue(*, session: Session, actor: Actor, kind_name: str, params: dict[str, Any]) -> Job:
    job_kind = kind(kind_name)
    if job_kind.role == Role.LEAD:
        article = "an" if job_kind.title[:1].lower() in "aeiou" else "a"
        require_role(actor, Role.LEAD, action=f"start {article} {job_kind.title} job")
    job = Job(kind=kind_name, params=params, created_by_id=actor.id, message="waiting for a worker")
    session.add(job)
    session.flush()
    return job


def get_job(*, session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id}")
    return job


def list_jobs(
    *,
    session: Session,
    actor: Actor,
    statuses: list[JobStatus] | None = None,
    limit: int = 200,
) -> list[Job]:
    """Jobs newest first: every job for the lead, their own for others."""
    query = select(Job).options(selectinload(Job.created_by)).order_by(Job.id.desc()).limit(limit)
    if not actor.is_lead:
        query = query.where(Job.created_by_id == actor.id)
    if statuses:
        query = query.where(Job.status.in_([s.value for s in statuses]))
    return list(session.scalars(query))


def request_cancel(*, session: Session, actor: Actor, job_id: int) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next check."""
    job = get_job(session=session, job_id=job_id)
    if job.created_by_id != actor.id or actor.id is None:
        require_role(actor, Role.LEAD, action="cancel other users' jobs")
    status = JobStatus(job.status)
    if status.finished:
        raise MoodlabError(f"job {job_id} has already {status.value}")
    if status == JobStatus.QUEUED:
        _finish(job, JobStatus.CANCELLED, message=f"cancelled by {actor.name} before it started")
    else:
        job.cancel_requested = True
        job.message = f"cancelling (asked by {actor.name})"
    return job


def live_workers(
    *, session: Session, within: timedelta, now: datetime | None = None
) -> list[Worker]:
    since = (now or utcnow()) - within
    query = select(Worker).where(Worker.stopped_at.is_(None), Worker.heartbeat_at >= since)
    return list(session.scalars(query))


# --- what workers call -----------------------------------------------------------------------


def claim_next(*, session: Session, worker: str, now: datetime | None = None) -> int | None:
    """Atomically take the oldest queued job for ``worker``; its id, or None.

    PostgreSQL skips rows another worker has locked; on SQLite the conditional
    UPDATE below is the guard: only one worker's UPDATE can still see 'queued'.
    """
    now = now or utcnow()
    while True:
        candidate = session.scalar(
            select(Job.id)
            .where(Job.status == JobStatus.QUEUED)
            .order_by(Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            session.commit()
            return None
        if claim(session=session, job_id=candidate, worker=worker, now=now):
            return candidate


def claim(*, session: Session, job_id: int, worker: str, now: datetime | None = None) -> bool:
    """Take job ``job_id`` if it is still queued; commits. True when this worker got it."""
    now = now or utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            attempts=Job.attempts + 1,
            message="started",
        )
    ).rowcount
    session.commit()
    return claimed == 1


def recover_stale(
    *, session: Session, stale_after: timedelta, now: datetime | None = None
) -> list[int]:
    """Re-queue (once) or fail running jobs whose worker stopped heartbeating."""
    now = now or utcnow()
    stale = session.scalars(
        select(Job).where(Job.status == JobStatus.RUNNING, Job.heartbeat_at < now - stale_after)
    ).all()
    for job in stale:
        silent = (
            f"worker {job.worker} stopped heartbeating at {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        if job.cancel_requested:
            _finish(job, JobStatus.CANCELLED, message=f"cancelled; {silent}")
        elif job.attempts < MAX_ATTEMPTS:
            job.status = JobStatus.QUEUED
            job.worker = None
            job.message = f"re-queued: {silent}"
            job.log_tail = _append(job.log_tail, f"[recovered] re-queued: {silent}")
        else:
            _finish(
                job,
                JobStatus.FAILED,
                error=f"{silent}, on attempt {job.attempts} of {MAX_ATTEMPTS}; not retried",
            )
    return [job.id for job in stale]


def _finish(job: Job, status: JobStatus, *, message: str = "", error: str | None = None) -> None:
    job.status = status
    job.finished_at = utcnow()
    job.message = message or (error or status.value)
    job.error = error
    if status == JobStatus.SUCCEEDED:
        job.progress = 1.0


def _append(log_tail: str, line: str) -> str:
    text = f"{log_tail}{line}\n"
    return text[-LOG_TAIL_CHARS:]


class JobContext:
    """What a handler gets: progress, logging and cancellation, each a short DB write.

    Handlers call ``progress`` and ``log`` as they go and ``check_cancelled``
    between units of work (both ``progress`` and ``log`` check too).
    """

    # Progress writes closer together than this are coalesced.
    MIN_WRITE_INTERVAL = 0.25

    def __init__(self, database, job_id: int, stop_event: threading.Event | None = None):
        self.database = database
        self.job_id = job_id
        self.cancel_event = threading.Event()
        self.stop_event = stop_event or threading.Event()
        self._last_write = 0.0

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()
        if self.stop_event.is_set():
            raise WorkerStopping()

    def progress(
        self,
        fraction: float,
        message: str | None = None,
        *,
        result: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        """Record how far along the job is; ``result`` shows live partial results."""
        self.check_cancelled()
        now = time.monotonic()
        if not force and now - self._last_write < self.MIN_WRITE_INTERVAL:
            return
        self._last_write = now
        values: dict[str, Any] = {"progress": min(1.0, max(0.0, float(fraction)))}
        if message is not None:
            values["message"] = message
        if result is not None:
            values["result"] = result
        with self.database.session() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))

    def log(self, line: str) -> None:
        self.check_cancelled()
        stamped = f"{utcnow():%H:%M:%S} {line}"
        with self.database.session() as session:
            job = session.get(Job, self.job_id)
            job.log_tail = _append(job.log_tail, stamped)

"""The job queue: long work (crawls, imports, training, videos) waiting for a worker.

A start service (``start_crawl``, ``start_training``, ...) calls ``enqueue`` with its
params; a worker claims the job, runs its kind's handler with a JobContext, and records
the outcome. A job whose worker stopped heartbeating is re-queued once, then failed.
See docs/architecture.md, "Jobs".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, object_session, selectinload

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Job, JobStatus, Role, Worker
from moodlab.core.timeutil import utcnow
from moodlab.jobs.context import JobParams, append_log

# A job is tried at most this often: the first run and one re-queue after its
# worker died. A job that kills its worker twice (say, out of memory) fails.
MAX_ATTEMPTS = 2


# --- the services pages and the CLI call --------------------------------------------------


def enqueue(*, session: Session, actor: Actor, settings: Settings, params: JobParams) -> Job:
    """Check the actor's role and the params, then queue the job; nothing is queued on error.

    The params' type names the kind, its title and its least role (``JobParams``): the
    queue reads no table of kinds, and a worker finds the kind's handler in the table
    its face handed it.
    """
    kind = type(params)
    if kind.ROLE == Role.LEAD:
        article = "an" if kind.TITLE[:1].lower() in "aeiou" else "a"
        require_role(actor, Role.LEAD, action=f"start {article} {kind.TITLE} job")
    params.validate(settings)
    params.authorize(session=session, actor=actor, settings=settings)
    job = Job(
        kind=kind.KIND,
        params=params.to_json(),
        created_by_id=actor.id,
        message="waiting for a worker",
    )
    session.add(job)
    session.flush()
    return job


def get_job(*, session: Session, actor: Actor, job_id: int) -> Job:
    """A job: any for the lead, their own for others (as list_jobs lists them)."""
    job = _job(session, job_id)
    if job.created_by_id != actor.id or actor.id is None:
        require_role(actor, Role.LEAD, action="see other users' jobs")
    return job


def _job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job with id {job_id}")
    return job


def list_jobs(
    *,
    session: Session,
    actor: Actor,
    statuses: list[JobStatus] | None = None,
    kinds: list[str] | None = None,
    limit: int = 200,
    runs_only: bool = False,
) -> list[Job]:
    """Jobs newest first: every job for the lead, their own for others; filtered in SQL.

    ``runs_only`` leaves out the parts of other jobs (a training run's folds), whose
    progress their run's card already shows.
    """
    query = select(Job).options(selectinload(Job.created_by)).order_by(Job.id.desc()).limit(limit)
    if not actor.is_lead:
        query = query.where(Job.created_by_id == actor.id)
    if statuses:
        query = query.where(Job.status.in_([s.value for s in statuses]))
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    if runs_only:
        query = query.where(Job.parent_id.is_(None))
    return list(session.scalars(query))


def ended_jobs_of(*, session: Session, actor: Actor, since: datetime, limit: int = 20) -> list[Job]:
    """The jobs ``actor`` started (whole runs, not their parts) that ended after ``since``,
    in the order they ended: what the pages tell them about wherever they are."""
    if actor.id is None:
        return []
    finished = [s.value for s in JobStatus if s.finished]
    query = (
        select(Job)
        .where(
            Job.created_by_id == actor.id,
            Job.parent_id.is_(None),
            Job.status.in_(finished),
            Job.finished_at > since,
        )
        .order_by(Job.finished_at, Job.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def request_cancel(*, session: Session, actor: Actor, job_id: int) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next check."""
    job = _job(session, job_id)
    if job.created_by_id != actor.id or actor.id is None:
        require_role(actor, Role.LEAD, action="cancel other users' jobs")
    status = JobStatus(job.status)
    if status.finished:
        raise MoodlabError(f"job {job_id} has already {status.value}")
    if status == JobStatus.QUEUED:
        finish(job, JobStatus.CANCELLED, message=f"cancelled by {actor.name} before it started")
    else:
        job.cancel_requested = True
        job.message = f"cancelling (asked by {actor.name})"
        stop_parts(session, job, f"cancelled with job {job.id}", its_worker_is_done=False)
    return job


def live_workers(
    *, session: Session, within: timedelta, now: datetime | None = None
) -> list[Worker]:
    since = (now or utcnow()) - within
    query = select(Worker).where(Worker.stopped_at.is_(None), Worker.heartbeat_at >= since)
    return list(session.scalars(query))


# --- what workers call -----------------------------------------------------------------------


def claim_next(
    *, session: Session, worker: str, now: datetime | None = None, parent_id: int | None = None
) -> int | None:
    """Atomically take the oldest queued job (of job ``parent_id``'s parts, if given) for
    ``worker``; its id, or None.

    PostgreSQL skips rows another worker has locked; on SQLite the conditional
    UPDATE below is the guard: only one worker's UPDATE can still see 'queued'.
    """
    now = now or utcnow()
    while True:
        query = select(Job.id).where(Job.status == JobStatus.QUEUED)
        if parent_id is not None:
            query = query.where(Job.parent_id == parent_id)
        candidate = session.scalar(
            query.order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        )
        if candidate is None:
            session.commit()
            return None
        if claim(session=session, job_id=candidate, worker=worker, now=now):
            return candidate


def claim(*, session: Session, job_id: int, worker: str, now: datetime | None = None) -> bool:
    """Take job ``job_id`` if it is still queued; commits. True when this worker got it."""
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed
    # to return the general Result, hence the cast SQLAlchemy's documentation shows.
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(**_claimed(worker, now), attempts=Job.attempts + 1)
    )
    claimed = cast(CursorResult[Any], result).rowcount
    session.commit()
    return claimed == 1


def take(job: Job, *, worker: str, now: datetime | None = None) -> None:
    """Claim ``job`` just queued in this session, before it commits: no worker sees it
    queued (the CLI's jobs run where they were started)."""
    for name, value in _claimed(worker, now).items():
        setattr(job, name, value)
    job.attempts = (job.attempts or 0) + 1


def _claimed(worker: str, now: datetime | None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "status": JobStatus.RUNNING,
        "worker": worker,
        "heartbeat_at": now,
        "started_at": now,
        "message": "started",
    }


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
            finish(job, JobStatus.CANCELLED, message=f"cancelled; {silent}")
        elif job.attempts < MAX_ATTEMPTS:
            job.status = JobStatus.QUEUED
            job.worker = None
            job.message = f"re-queued: {silent}"
            job.log_tail = append_log(job.log_tail, f"[recovered] re-queued: {silent}")
        else:
            finish(
                job,
                JobStatus.FAILED,
                error=f"{silent}, on attempt {job.attempts} of {MAX_ATTEMPTS}; not retried",
            )
    return [job.id for job in stale]


def finish(job: Job, status: JobStatus, *, message: str = "", error: str | None = None) -> None:
    """Record a job's end; one that did not succeed stops its parts."""
    job.status = status
    job.finished_at = utcnow()
    job.message = message or (error or status.value)
    job.error = error
    if status == JobStatus.SUCCEEDED:
        job.progress = 1.0
    elif (session := object_session(job)) is not None:
        stop_parts(session, job, f"stopped: job {job.id} {status.value}", its_worker_is_done=True)


def stop_parts(session: Session, job: Job, why: str, *, its_worker_is_done: bool) -> None:
    """Stop ``job``'s unfinished parts: queued ones at once, running ones at their
    worker's next heartbeat; those on ``job``'s own worker at once when that worker is
    done with the job (they ran inside it, so nothing runs them any more)."""
    parts = session.scalars(
        select(Job).where(
            Job.parent_id == job.id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
        )
    ).all()
    for part in parts:
        if part.status == JobStatus.QUEUED or (its_worker_is_done and part.worker == job.worker):
            finish(part, JobStatus.CANCELLED, message=why)
        else:
            part.cancel_requested = True
            part.message = f"cancelling: {why}"

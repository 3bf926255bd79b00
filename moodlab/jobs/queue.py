"""The job queue: long work (crawls, imports, training, videos) waiting for a worker.

A start service (``start_crawl``, ``start_training``, ...) calls ``enqueue`` with its
params; a worker claims the job, runs its kind's handler with a JobContext, and records
the outcome. A job whose worker stopped heartbeating is re-queued once, then failed.
See docs/architecture.md, "Jobs".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session, defer, object_session, selectinload

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.dbclock import database_time, db_now
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Job, JobLog, JobStatus, Role, Worker
from moodlab.core.timeutil import utcnow
from moodlab.jobs.context import JobParams
from moodlab.jobs.engine import dispatch
from moodlab.jobs.queues import queue_of

# The tries of a job whose kind declares none (JobParams.TRIES): the first run and
# one re-queue after its worker died. A job that kills its worker twice (say, out of
# memory) fails.
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
        queue=queue_of(kind, settings),
        max_attempts=kind.TRIES,
        message="waiting for a worker",
    )
    session.add(job)
    session.flush()
    dispatch(session, job)
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


def _listed(
    actor: Actor,
    statuses: list[JobStatus] | None,
    kinds: list[str] | None,
    runs_only: bool,
) -> Any:
    """The WHERE of a listing: what the actor may see, filtered in SQL."""
    conditions: list[Any] = []
    if not actor.is_lead:
        conditions.append(Job.created_by_id == actor.id)
    if statuses:
        conditions.append(Job.status.in_([s.value for s in statuses]))
    if kinds:
        conditions.append(Job.kind.in_(kinds))
    if runs_only:
        conditions.append(Job.parent_id.is_(None))
    return conditions


def list_jobs(
    *,
    session: Session,
    actor: Actor,
    statuses: list[JobStatus] | None = None,
    kinds: list[str] | None = None,
    limit: int = 200,
    offset: int = 0,
    runs_only: bool = False,
) -> list[Job]:
    """Jobs newest first: every job for the lead, their own for others; filtered in SQL,
    ``limit`` of them from ``offset`` (a page). The old log column is not loaded: a
    card reads log lines in pages (``log_lines``), and only when asked.

    ``runs_only`` leaves out the parts of other jobs (a training run's folds), whose
    progress their run's card already shows.
    """
    query = (
        select(Job)
        .options(selectinload(Job.created_by), defer(Job.log_tail))
        .where(*_listed(actor, statuses, kinds, runs_only))
        .order_by(Job.id.desc())
        .limit(limit)
        .offset(offset)
    )
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


def count_jobs(
    *,
    session: Session,
    actor: Actor,
    statuses: list[JobStatus] | None = None,
    kinds: list[str] | None = None,
    runs_only: bool = False,
) -> int:
    """How many jobs ``list_jobs`` would list without its limit."""
    query = select(func.count(Job.id)).where(*_listed(actor, statuses, kinds, runs_only))
    return int(session.scalar(query) or 0)


def job_status(*, session: Session, actor: Actor, job_ids: Sequence[int]) -> dict[int, str]:
    """The status of each of ``job_ids`` the actor may see: one small query, for a
    selector whose labels must stay live."""
    query = select(Job.id, Job.status).where(
        Job.id.in_(list(job_ids)), *_listed(actor, None, None, False)
    )
    return {job_id: status for job_id, status in session.execute(query).tuples()}


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


def live_workers(*, session: Session, within: timedelta) -> list[Worker]:
    """Workers that heartbeat within ``within``, on the database's clock."""
    # Read once, then compared in SQL: SQLite has no interval arithmetic.
    since = database_time(session) - within
    query = select(Worker).where(Worker.stopped_at.is_(None), Worker.heartbeat_at >= since)
    return list(session.scalars(query))


def log_lines(
    *, session: Session, job_id: int, before_id: int | None = None, limit: int = 200
) -> list[JobLog]:
    """A page of a job's log lines, oldest first: the newest ``limit`` lines before line
    ``before_id`` (the newest of all when None)."""
    query = select(JobLog).where(JobLog.job_id == job_id)
    if before_id is not None:
        query = query.where(JobLog.id < before_id)
    newest = list(session.scalars(query.order_by(JobLog.id.desc()).limit(limit)))
    return newest[::-1]


def log_text(*, session: Session, job_id: int, limit: int = 200) -> str:
    """A job's last ``limit`` log lines as text (a job from before log lines had their
    own table keeps its old log)."""
    lines = log_lines(session=session, job_id=job_id, limit=limit)
    old = session.scalar(select(Job.log_tail).where(Job.id == job_id)) or ""
    return old + "".join(f"{line.line}\n" for line in lines)


def add_log(session: Session, job_id: int, line: str) -> None:
    session.add(JobLog(job_id=job_id, line=f"{utcnow():%H:%M:%S} {line}"))


# --- what workers call -----------------------------------------------------------------------


def claim_next(
    *,
    session: Session,
    worker: str,
    parent_id: int | None = None,
    queues: Sequence[str] | None = None,
) -> int | None:
    """Atomically take the oldest queued job (of job ``parent_id``'s parts, if given; of
    ``queues``, if given) whose backoff has passed, for ``worker``; its id, or None.

    PostgreSQL skips rows another worker has locked; on SQLite the conditional
    UPDATE below is the guard: only one worker's UPDATE can still see 'queued'.
    """
    while True:
        query = select(Job.id).where(
            Job.status == JobStatus.QUEUED, or_(Job.run_after.is_(None), Job.run_after <= db_now())
        )
        if parent_id is not None:
            query = query.where(Job.parent_id == parent_id)
        if queues is not None:
            query = query.where(Job.queue.in_(list(queues)))
        candidate = session.scalar(
            query.order_by(Job.id).limit(1).with_for_update(skip_locked=True)
        )
        if candidate is None:
            session.commit()
            return None
        if claim(session=session, job_id=candidate, worker=worker):
            return candidate


def claim(*, session: Session, job_id: int, worker: str) -> bool:
    """Take job ``job_id`` if it is still queued; commits. True when this worker got it."""
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed
    # to return the general Result, hence the cast SQLAlchemy's documentation shows.
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(**_claimed(worker), attempts=Job.attempts + 1)
    )
    claimed = cast(CursorResult[Any], result).rowcount
    session.commit()
    return claimed == 1


def take(job: Job, *, worker: str) -> None:
    """Claim ``job`` just queued in this session, before it commits: no worker sees it
    queued (the CLI's jobs run where they were started)."""
    for name, value in _claimed(worker).items():
        setattr(job, name, value)
    job.attempts = (job.attempts or 0) + 1


def _claimed(worker: str) -> dict[str, Any]:
    return {
        "status": JobStatus.RUNNING,
        "worker": worker,
        "heartbeat_at": db_now(),
        "started_at": db_now(),
        "run_after": None,
        "message": "started",
    }


def recover_stale(*, session: Session, stale_after: timedelta) -> list[int]:
    """Re-queue (while it has tries left) or fail running jobs whose worker stopped
    heartbeating, on the database's clock: each heartbeat was written with it too.

    Each job is taken with a conditional UPDATE on the heartbeat it was seen with, so
    two workers recovering at once re-queue it once, and a job whose worker beat
    meanwhile is left alone.
    """
    stale = session.scalars(
        select(Job).where(
            Job.status == JobStatus.RUNNING,
            Job.heartbeat_at < database_time(session) - stale_after,
        )
    ).all()
    recovered: list[int] = []
    for job in stale:
        seen = cast(
            CursorResult[Any],
            session.execute(
                update(Job)
                .where(
                    Job.id == job.id,
                    Job.status == JobStatus.RUNNING,
                    Job.heartbeat_at == job.heartbeat_at,
                )
                .values(heartbeat_at=db_now())
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if seen != 1:
            continue
        recovered.append(job.id)
        silent = (
            f"worker {job.worker} stopped heartbeating at {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        tries = job.max_attempts or MAX_ATTEMPTS
        if job.cancel_requested:
            finish(job, JobStatus.CANCELLED, message=f"cancelled; {silent}")
        elif job.attempts < tries:
            job.status = JobStatus.QUEUED
            job.worker = None
            job.message = f"re-queued: {silent}"
            add_log(session, job.id, f"[recovered] re-queued: {silent}")
            dispatch(session, job)
        else:
            finish(
                job,
                JobStatus.FAILED,
                error=f"{silent}, on try {job.attempts} of {tries}; not retried",
            )
    session.commit()
    return recovered


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


def served_queues(*, session: Session, within: timedelta) -> dict[str, list[str]]:
    """Each queue that a live worker serves, with those workers' names."""
    served: dict[str, list[str]] = {}
    for worker in live_workers(session=session, within=within):
        for name in filter(None, (worker.queues or "").split(",")):
            served.setdefault(name, []).append(worker.name)
    return served


def unserved_note(job: Job, served: dict[str, list[str]]) -> str | None:
    """For a queued job whose queue no live worker serves, a line that says so."""
    if job.status != JobStatus.QUEUED or job.queue in served:
        return None
    return (
        f"No live worker serves the {job.queue} queue, so this job waits: start one with"
        f" moodlab worker --queues {job.queue}"
    )

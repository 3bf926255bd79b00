"""The job engine behind moodlab's queue: Procrastinate on PostgreSQL, the embedded
runner on SQLite, one interface.

moodlab's ``jobs`` table stays the record the pages show (progress, log, result,
cancel); the engine decides which worker runs a job and when. On PostgreSQL each
queued job also gets a Procrastinate job (task ``moodlab.run_job``, on the job's queue),
inserted in the same transaction, so a job is dispatched exactly when it is committed,
and a worker waiting on that queue wakes by LISTEN/NOTIFY at once. On SQLite nothing
more is stored: the embedded runner (moodlab.jobs.worker) polls the ``jobs`` table
itself. Either way the worker claims the row with the same conditional UPDATE, so a
job runs once (docs/postgresql.md, "The job engine").
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from moodlab.core.models import Job

# The one Procrastinate task: "run moodlab job N if it is still queued".
TASK_NAME = "moodlab.run_job"
# Procrastinate's version whose schema the Alembic revision 0016 applies; the
# requirement is pinned to it (a new version needs a migration of its own).
PROCRASTINATE_VERSION = "3.10.0"

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL,"
    " CAST(:args AS jsonb), clock_timestamp() + make_interval(secs => :delay))"
    "::procrastinate_job_to_defer_v1])"
)


def uses_engine(session: Session) -> bool:
    """Whether this database dispatches through Procrastinate (PostgreSQL) or not."""
    return session.get_bind().dialect.name == "postgresql"


def dispatch(session: Session, job: Job, *, delay_s: float = 0.0) -> None:
    """Hand queued ``job`` to the engine, in the caller's transaction; ``delay_s`` is a
    retry's backoff (the job's ``run_after`` says the same for the embedded runner)."""
    if not uses_engine(session):
        return
    session.flush()
    session.execute(
        _DEFER,
        {
            "queue": job.queue,
            "task": TASK_NAME,
            "args": json.dumps({"job_id": job.id}),
            "delay": max(0.0, float(delay_s)),
        },
    )


def procrastinate_conninfo(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as the libpq connection string Procrastinate takes."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)

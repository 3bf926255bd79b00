"""Retention: finished jobs and dead workers pruned after MOODLAB_JOB_RETENTION_DAYS.

A job that another row points at (a model's training run, an image's intake, a
video's job: any foreign key to ``jobs.id`` outside the jobs' own tables) is kept: it
is the record of how that thing was made. A pruned job takes its log lines and its
parts with it (ON DELETE CASCADE). Ages are on the database's clock
(docs/postgresql.md, "Logs and retention").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, or_, select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.dbclock import database_time
from moodlab.core.models import Base, Job, JobStatus, Role, Worker

# The jobs' own tables: their rows go with the job, they do not keep it.
OWN_TABLES = {"jobs", "job_logs", "workers"}


@dataclass(frozen=True)
class Pruned:
    jobs: int
    workers: int


def _pointed_at() -> list[Any]:
    """A condition per foreign key to jobs.id in another table: "a row points at it"."""
    conditions = []
    for table in Base.metadata.sorted_tables:
        if table.name in OWN_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "jobs" and fk.column.name == "id":
                conditions.append(exists().where(fk.parent == Job.id))
    return conditions


def prune(*, session: Session, settings: Settings, actor: Actor) -> Pruned:
    """Delete finished jobs (runs with their parts) and stopped or silent workers older
    than the retention period; never a job something points at. The lead's (workers
    prune as the command line). Commits."""
    require_role(actor, Role.LEAD, action="prune old jobs")
    cutoff = database_time(session) - timedelta(days=settings.job_retention_days)
    finished = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]
    old = select(Job.id).where(
        Job.parent_id.is_(None),  # parts go with their run
        Job.status.in_(finished),
        Job.finished_at < cutoff,
    )
    if kept := _pointed_at():
        old = old.where(~or_(*kept))
    ids = list(session.scalars(old))
    removed_jobs = 0
    for start in range(0, len(ids), 500):  # short transactions: SQLite has one writer
        batch = ids[start : start + 500]
        result = session.execute(delete(Job).where(Job.id.in_(batch)))
        removed_jobs += cast(CursorResult[Any], result).rowcount
        session.commit()
    result = session.execute(
        delete(Worker).where(
            or_(Worker.stopped_at < cutoff, Worker.heartbeat_at < cutoff),
        )
    )
    session.commit()
    return Pruned(jobs=removed_jobs, workers=cast(CursorResult[Any], result).rowcount)

"""Starting the worker check: one start service for the Jobs page and the CLI."""

from __future__ import annotations

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.models import Job
from moodlab.jobs.check import CheckParams
from moodlab.jobs.queue import enqueue


def start_check(
    *, session: Session, actor: Actor, settings: Settings, params: CheckParams | None = None
) -> Job:
    """Queue a short job that proves a worker runs and can write to the data dir."""
    return enqueue(session=session, actor=actor, settings=settings, params=params or CheckParams())

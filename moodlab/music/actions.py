"""Starting the generation of the default music library (the lead's, or `moodlab serve`'s)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Job, JobStatus, Role
from moodlab.jobs.queue import enqueue
from moodlab.music.library import GenerateParams, missing_default_tracks


def start_generate(
    *, session: Session, actor: Actor, settings: Settings, params: GenerateParams | None = None
) -> Job:
    """Queue the generation job (the lead's); the same job when one is already waiting."""
    require_role(actor, Role.LEAD, action="generate the default music library")
    if waiting := generation_job(session):
        return waiting
    return enqueue(
        session=session, actor=actor, settings=settings, params=params or GenerateParams()
    )


def generation_job(session: Session) -> Job | None:
    query = select(Job).where(
        Job.kind == GenerateParams.KIND, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
    )
    return session.scalars(query.order_by(Job.id)).first()


def queue_default_library(*, database: Database, settings: Settings) -> int | None:
    """On start: queue the generation job when default tracks are missing; its id or None."""
    if settings.music_tracks_per_mood == 0:
        return None
    with database.session() as session:
        if not missing_default_tracks(session=session, settings=settings):
            return None
        return start_generate(session=session, actor=Actor.command_line(), settings=settings).id

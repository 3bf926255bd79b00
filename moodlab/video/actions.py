"""Starting a video: one start service for the Video page and `moodlab video make`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.models import Job
from moodlab.jobs.queue import enqueue
from moodlab.video.request import VideoParams, resolve_model


def start_video(*, session: Session, actor: Actor, settings: Settings, params: VideoParams) -> Job:
    """Queue a video job (anyone logged in may); inputs, paths and the model are checked now.

    The paths first (moodlab/video/paths.py): a refused path is refused whatever else.
    """
    params.authorize(session=session, actor=actor, settings=settings)
    resolve_model(session=session, model_id=params.model_id)
    return enqueue(session=session, actor=actor, settings=settings, params=params)

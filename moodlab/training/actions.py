"""Starting a training run: one start service for the Training page and `moodlab train`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.models import Job, Role
from moodlab.datasets.snapshots import get_snapshot
from moodlab.jobs.queue import enqueue
from moodlab.training.runs import TrainParams


def start_training(
    *, session: Session, actor: Actor, settings: Settings, params: TrainParams
) -> Job:
    """Queue a cross-validated training run on a snapshot; nothing is queued on a bad value."""
    require_role(actor, Role.LEAD, action="start a training run job")
    get_snapshot(session=session, actor=actor, snapshot_id=params.snapshot_id)  # raises NotFound
    return enqueue(session=session, actor=actor, settings=settings, params=params)

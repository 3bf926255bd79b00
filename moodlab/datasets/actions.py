"""The lead's dataset actions that run as jobs; one start service each, for both faces."""

from __future__ import annotations

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.models import Job, Role
from moodlab.datasets.export import ExportParams
from moodlab.datasets.snapshots import get_snapshot
from moodlab.jobs.queue import enqueue


def start_export(
    *, session: Session, actor: Actor, settings: Settings, params: ExportParams
) -> Job:
    """Queue the export of a snapshot; refused at once when the snapshot does not exist."""
    require_role(actor, Role.LEAD, action="export datasets")
    get_snapshot(session=session, actor=actor, snapshot_id=params.snapshot_id)
    return enqueue(session=session, actor=actor, settings=settings, params=params)

"""Which dataset files a user may download (the file route, moodlab/ui/files.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.storage import file_within
from moodlab.datasets.export import export_path
from moodlab.datasets.snapshots import get_snapshot


def export_file(*, session: Session, actor: Actor, settings: Settings, snapshot_id: int) -> Path:
    """Snapshot ``snapshot_id``'s ImageFolder zip: the lead's, like the snapshot."""
    get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)  # checks the role
    return file_within(settings.data_dir, export_path(settings, snapshot_id))

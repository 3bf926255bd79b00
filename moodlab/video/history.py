"""Videos made so far: the list (all for the lead, one's own for others), files, rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.models import Video


def list_videos(*, session: Session, actor: Actor, limit: int = 200) -> list[Video]:
    """Videos newest first: all of them for the lead, their own for others."""
    query = select(Video).order_by(Video.id.desc()).limit(limit)
    if not actor.is_lead:
        query = query.where(Video.created_by_id == actor.id)
    return list(session.scalars(query))


def video_file(settings: Settings, video: Video) -> Path:
    path = Path(video.path)
    return path if path.is_absolute() else settings.data_dir / path


def video_row(video: Video) -> dict[str, Any]:
    return {
        "id": video.id,
        "kind": video.kind,
        "title": video.title,
        "path": video.path,
        "mood": video.mood,
        "confidence": round(video.confidence, 4),
        "duration_s": round(video.duration_s, 3),
        "model_id": video.model_id,
        "snapshot_id": video.snapshot_id,
        "job_id": video.job_id,
        "tracks": video.report.get("tracks", []),
        "inputs": video.inputs.get("files", []),
        "created_at": video.created_at.isoformat(timespec="seconds"),
    }

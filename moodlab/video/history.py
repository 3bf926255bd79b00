"""Videos made so far: the list (all for the lead, one's own for others), files, rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, undefer

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.models import Role, Video


def list_videos(
    *, session: Session, actor: Actor, limit: int = 200, reports: bool = True
) -> list[Video]:
    """Videos newest first: all of them for the lead, their own for others.

    ``reports=False`` leaves each video's report and inputs unread (a listing shows
    neither; a report's timeline grows with the video's length): reading them then
    raises, and ``get_video`` reads the one video shown whole.
    """
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="see videos")
    query = select(Video).order_by(Video.id.desc()).limit(limit)
    if not reports:
        query = query.options(
            defer(Video.report, raiseload=True), defer(Video.inputs, raiseload=True)
        )
    if not actor.is_lead:
        query = query.where(Video.created_by_id == actor.id)
    return list(session.scalars(query))


def get_video(*, session: Session, actor: Actor, video_id: int) -> Video:
    """Video ``video_id`` whole: its maker's and the lead's. Another user's video answers
    as a missing one, so its id tells nothing."""
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="see videos")
    # Whole even where this session listed it without its report first.
    query = (
        select(Video)
        .where(Video.id == video_id)
        .options(undefer(Video.report), undefer(Video.inputs))
    )
    video = session.scalars(query.execution_options(populate_existing=True)).first()
    if video is None or not (actor.is_lead or video.created_by_id == actor.id):
        raise NotFound(f"no video with id {video_id}")
    return video


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

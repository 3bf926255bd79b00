"""Which video files a user may open in the browser (the file route, moodlab/ui/files.py).

A video and its sampled frames are its maker's and the lead's, as in the Video page's
history (moodlab/video/history.py). Only files under the data dir are served: a video
the command line wrote elsewhere (``--out``) stays where it was written.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.models import Role, Video
from moodlab.core.storage import file_within
from moodlab.video.history import video_file


def _video(session: Session, actor: Actor, video_id: int) -> Video:
    require_role(actor, Role.LEAD, Role.ANNOTATOR, action="see videos")
    video = session.get(Video, video_id)
    # Another user's video answers as a missing one: its id tells nothing.
    if video is None or not (actor.is_lead or video.created_by_id == actor.id):
        raise NotFound(f"no video with id {video_id}")
    return video


def output_file(*, session: Session, actor: Actor, settings: Settings, video_id: int) -> Path:
    """Video ``video_id``'s file, with its music."""
    video = _video(session, actor, video_id)
    return file_within(settings.data_dir, video_file(settings, video))


def frame_file(
    *, session: Session, actor: Actor, settings: Settings, video_id: int, index: int
) -> Path:
    """The ``index``-th sampled frame kept for video ``video_id``."""
    frames = _video(session, actor, video_id).report.get("frames") or []
    if not 0 <= index < len(frames) or not frames[index].get("path"):
        raise NotFound(f"video {video_id} kept no frame {index}")
    return file_within(settings.data_dir, settings.data_dir / frames[index]["path"])

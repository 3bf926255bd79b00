"""Which video files a user may open in the browser (the file route, moodlab/ui/files.py).

A video and its sampled frames are its maker's and the lead's, as in the Video page's
history (moodlab/video/history.py). Only files under the data dir are served: a video
the command line wrote elsewhere (``--out``) stays where it was written.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.storage import file_within
from moodlab.video.history import get_video, video_file


def output_file(*, session: Session, actor: Actor, settings: Settings, video_id: int) -> Path:
    """Video ``video_id``'s file, with its music."""
    video = get_video(session=session, actor=actor, video_id=video_id)
    return file_within(settings.data_dir, video_file(settings, video))


def frame_file(
    *, session: Session, actor: Actor, settings: Settings, video_id: int, index: int
) -> Path:
    """The ``index``-th sampled frame kept for video ``video_id``."""
    frames = get_video(session=session, actor=actor, video_id=video_id).report.get("frames") or []
    if not 0 <= index < len(frames) or not frames[index].get("path"):
        raise NotFound(f"video {video_id} kept no frame {index}")
    return file_within(settings.data_dir, settings.data_dir / frames[index]["path"])

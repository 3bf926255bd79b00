"""A video or photos uploaded through the browser, kept under the data dir for a video job.

Uploaded names are labels only: each file is saved as a numbered name with a
whitelisted suffix in a fresh folder, so no name can reach outside it (as image
uploads are: moodlab.images.uploads). A batch that is refused, or whose video
cannot start, leaves no file: its folder goes.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job
from moodlab.core.storage import Upload, atomic_write, copy_upload, removed_on_failure, upload_size
from moodlab.images.formats import IMAGE_EXTENSIONS
from moodlab.video.actions import start_video
from moodlab.video.request import VideoParams, human_bytes

# Containers a video may come in; photos for a slideshow use the image suffixes.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts")


def save_video_uploads(
    settings: Settings, files: list[tuple[str, Upload]]
) -> tuple[list[str], dict[str, str]]:
    """Save an uploaded video or photos: the saved paths, and saved path -> shown name.

    A refused file refuses the batch, and the files saved before it are removed.
    """
    if not files:
        raise MoodlabError("no files were uploaded")
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    paths, names = [], {}
    with removed_on_failure(folder):
        for number, (name, data) in enumerate(files, start=1):
            shown = PurePath(name.replace("\\", "/")).name or f"upload {number}"
            suffix = PurePath(shown).suffix.lower()
            if suffix not in (*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS):
                raise MoodlabError(f"{shown!r}: only videos and photos can be made into a video")
            if (size := upload_size(data)) > settings.video_max_bytes:
                raise MoodlabError(
                    f"{shown}: {human_bytes(size)} is over the"
                    f" {human_bytes(settings.video_max_bytes)} limit (MOODLAB_VIDEO_MAX_BYTES)"
                )
            path = folder / f"{number:06d}{suffix}"
            with atomic_write(path) as handle:
                copy_upload(data, handle)
            paths.append(str(path))
            names[str(path)] = shown
    return paths, names


def start_upload_video(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    files: list[tuple[str, Upload]],
    params: VideoParams,
) -> Job:
    """Save an uploaded video or photos and queue a video of them with ``params``' other
    choices; refused (no file kept) if either fails."""
    paths, names = save_video_uploads(settings, files)
    with removed_on_failure(Path(paths[0]).parent):
        params = replace(params, inputs=paths, names=names)
        return start_video(session=session, actor=actor, settings=settings, params=params)

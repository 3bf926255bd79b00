"""Files uploaded through the browser, kept under the data dir for an import job.

Uploaded names are labels only: each file is saved as a numbered name with a
whitelisted suffix in a fresh folder, so no name can reach outside it.
"""

from __future__ import annotations

import uuid
from pathlib import Path, PurePath

from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.storage import atomic_write
from moodlab.images.importer import UNSUPPORTED_KINDS
from moodlab.images.links import IMAGE_EXTENSIONS

# Images and zips are imported; the picture kinds moodlab cannot read (SVG, HEIC, ...)
# are saved too, so the import lists each as rejected with its reason.
ACCEPTED = (*IMAGE_EXTENSIONS, ".zip", *UNSUPPORTED_KINDS)


def save_uploads(settings: Settings, files: list[tuple[str, bytes]]) -> tuple[Path, dict[str, str]]:
    """Save (name, bytes) pairs: the folder (or lone zip) to import, and saved -> shown names.

    Several files are saved into one folder, whose import unpacks the zips among them.
    """
    if not files:
        raise MoodlabError("no files were uploaded")
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    names: dict[str, str] = {}
    for number, (name, data) in enumerate(files, start=1):
        suffix = PurePath(name.replace("\\", "/")).suffix.lower()
        if suffix not in ACCEPTED:
            raise MoodlabError(f"{name!r}: only images and .zip files can be imported")
        saved = f"{number:06d}{suffix}"
        with atomic_write(folder / saved) as handle:
            handle.write(data)
        names[saved] = PurePath(name.replace("\\", "/")).name or saved
    if len(files) == 1 and folder.joinpath(next(iter(names))).suffix == ".zip":
        return folder / next(iter(names)), names
    return folder, names


# Containers a video may come in; photos for a slideshow use the image suffixes.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts")


def save_video_uploads(
    settings: Settings, files: list[tuple[str, bytes]]
) -> tuple[list[str], dict[str, str]]:
    """Save an uploaded video or photos: the saved paths, and saved path -> shown name."""
    if not files:
        raise MoodlabError("no files were uploaded")
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    paths, names = [], {}
    for number, (name, data) in enumerate(files, start=1):
        shown = PurePath(name.replace("\\", "/")).name or f"upload {number}"
        suffix = PurePath(shown).suffix.lower()
        if suffix not in (*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS):
            raise MoodlabError(f"{shown!r}: only videos and photos can be made into a video")
        if len(data) > settings.video_max_bytes:
            from moodlab.video.request import human_bytes

            raise MoodlabError(
                f"{shown}: {human_bytes(len(data))} is over the"
                f" {human_bytes(settings.video_max_bytes)} limit (MOODLAB_VIDEO_MAX_BYTES)"
            )
        path = folder / f"{number:06d}{suffix}"
        with atomic_write(path) as handle:
            handle.write(data)
        paths.append(str(path))
        names[str(path)] = shown
    return paths, names

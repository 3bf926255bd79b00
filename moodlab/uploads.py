"""Files uploaded through the browser, kept under the data dir for an import job.

Uploaded names are labels only: each file is saved as a numbered name with a
whitelisted suffix in a fresh folder, so no name can reach outside it.
"""

from __future__ import annotations

import uuid
from pathlib import Path, PurePath

from moodlab.config import Settings
from moodlab.errors import MoodlabError
from moodlab.page_links import IMAGE_EXTENSIONS
from moodlab.storage import atomic_write

ACCEPTED = (*IMAGE_EXTENSIONS, ".zip")


def save_uploads(settings: Settings, files: list[tuple[str, bytes]]) -> tuple[Path, dict[str, str]]:
    """Save (name, bytes) pairs: the folder (or lone zip) to import, and saved -> shown names."""
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

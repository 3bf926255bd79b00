"""Images uploaded through the browser, kept under the data dir for an import job.

Uploaded names are labels only: each file is saved as a numbered name with a
whitelisted suffix in a fresh folder, so no name can reach outside it. A video's
uploads are saved the same way, by moodlab.video.uploads.
"""

from __future__ import annotations

import uuid
from pathlib import Path, PurePath

from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.storage import atomic_write
from moodlab.images.formats import IMAGE_EXTENSIONS
from moodlab.images.importer import UNSUPPORTED_KINDS

# What the upload widget offers and this takes: the names of the formats the checks
# read (moodlab.images.formats), and zips of them. Nothing that is always refused.
ACCEPTED = (*IMAGE_EXTENSIONS, ".zip")


def save_uploads(settings: Settings, files: list[tuple[str, bytes]]) -> tuple[Path, dict[str, str]]:
    """Save (name, bytes) pairs: the folder (or lone zip) to import, and saved -> shown names.

    Several files are saved into one folder, whose import unpacks the zips among them.
    """
    if not files:
        raise MoodlabError("no files were uploaded")
    for name, _ in files:  # all checked before any is saved: a refusal leaves nothing
        suffix = PurePath(name.replace("\\", "/")).suffix.lower()
        if suffix not in ACCEPTED:
            why = UNSUPPORTED_KINDS.get(suffix, "not a picture moodlab reads")
            raise MoodlabError(f"{name!r}: {why}; moodlab imports {', '.join(ACCEPTED)} files only")
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    names: dict[str, str] = {}
    for number, (name, data) in enumerate(files, start=1):
        suffix = PurePath(name.replace("\\", "/")).suffix.lower()
        saved = f"{number:06d}{suffix}"
        with atomic_write(folder / saved) as handle:
            handle.write(data)
        names[saved] = PurePath(name.replace("\\", "/")).name or saved
    if len(files) == 1 and folder.joinpath(next(iter(names))).suffix == ".zip":
        return folder / next(iter(names)), names
    return folder, names

"""Images uploaded through the browser, kept under the data dir for an import job.

Uploaded names are labels only: each file is saved as a numbered name with a
whitelisted suffix in a fresh folder, so no name can reach outside it. A video's
uploads are saved the same way, by moodlab.video.uploads. A batch that is refused,
or whose import cannot start, leaves no file: its folder goes.
"""

from __future__ import annotations

import uuid
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job
from moodlab.core.storage import Upload, atomic_write, copy_upload, removed_on_failure
from moodlab.images.actions import start_import
from moodlab.images.formats import IMAGE_EXTENSIONS
from moodlab.images.importer import UNSUPPORTED_KINDS, ImportParams

# What the upload widget offers and this takes: the names of the formats the checks
# read (moodlab.images.formats), and zips of them. Nothing that is always refused.
ACCEPTED = (*IMAGE_EXTENSIONS, ".zip")


def save_uploads(
    settings: Settings, files: list[tuple[str, Upload]]
) -> tuple[Path, dict[str, str]]:
    """Save (name, bytes or file) pairs: the folder (or lone zip) to import, and saved -> shown
    names. A file object is copied a MiB at a time, never read whole.

    Several files are saved into one folder, whose import unpacks the zips among them.
    A refused file refuses the batch, and the files saved before it are removed.
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
    with removed_on_failure(folder):
        for number, (name, data) in enumerate(files, start=1):
            suffix = PurePath(name.replace("\\", "/")).suffix.lower()
            saved = f"{number:06d}{suffix}"
            with atomic_write(folder / saved) as handle:
                copy_upload(data, handle)
            names[saved] = PurePath(name.replace("\\", "/")).name or saved
    if len(files) == 1 and folder.joinpath(next(iter(names))).suffix == ".zip":
        return folder / next(iter(names)), names
    return folder, names


def start_upload_import(
    *, session: Session, actor: Actor, settings: Settings, files: list[tuple[str, Upload]]
) -> Job:
    """Save uploaded files and queue their import; refused (no file kept) if either fails."""
    path, names = save_uploads(settings, files)
    params = ImportParams(path=str(path), names=names, label="uploaded files")
    with removed_on_failure(path if path.is_dir() else path.parent):
        return start_import(session=session, actor=actor, settings=settings, params=params)

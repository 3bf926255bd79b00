"""Stored files that no row names: removed when a worker starts.

A refused or failed image's files are removed at once (moodlab.images.intake), and
so is a refused batch of uploads (moodlab.images.uploads, moodlab.video.uploads).
What that cannot reach is a crash between a file's rename and its row's commit (a
killed worker or page, a power cut): the original, display copy and thumbnail of a
batch that was never committed, or an upload folder whose job was never queued. A
worker's start (`moodlab worker`, `moodlab serve`) removes such files under
``objects/``, ``display/``, ``thumb128/`` and ``uploads/`` once they are old enough
that no intake or page can still be about to commit their row (docs/architecture.md,
"File durability"). Temp files are another start-up task's (moodlab.core.storage).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from sqlalchemy import select

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Image, Job

log = logging.getLogger("moodlab.images")

# A file younger than this may be an intake's whose row is still to come: a crawl
# commits its rows in batches (a second apart), and a busy database can make a commit
# wait; an hour is far past both, and an orphan costs only disk space meanwhile.
ORPHAN_MIN_AGE_S = 3600.0
# The folders of an image's files (moodlab.images.intake: original, display, thumbnail).
IMAGE_FOLDERS = ("objects", "display", "thumb128")
# Names of stored files, "<sha256>" or "<sha256>.<suffix>"; temp files start with ".".
_STORED_NAME = re.compile(r"([0-9a-f]{64})(\.[a-z0-9]{1,8})?")
# A browser upload's folder: a uuid4's hex.
_UPLOAD_FOLDER = re.compile(r"[0-9a-f]{32}")
_QUERY_CHUNK = 500  # sha256s per query: well under SQLite's bound on parameters


def remove_orphans(
    settings: Settings, database: Database, *, older_than_s: float = ORPHAN_MIN_AGE_S
) -> list[Path]:
    """Remove the image files that no image row names and that are older than
    ``older_than_s``. Returns what was removed.

    The rows are asked first, so only a file no row names costs a stat: a folder
    listing is all the others cost.
    """
    found: dict[str, list[str]] = {}
    for path, sha256 in _stored_files(Path(settings.data_dir)):
        found.setdefault(sha256, []).append(path)
    named = _named(database, list(found))
    removed: list[Path] = []
    for sha256, paths in found.items():
        if sha256 in named:
            continue
        for path in paths:
            # Its age now: an intake that found this original and uses it meanwhile
            # made it fresh (moodlab.images.intake touches it).
            if _age(path) > older_than_s:
                Path(path).unlink(missing_ok=True)
                removed.append(Path(path))
    if removed:
        log.info("removed %d stored image files that no image names", len(removed))
    return removed


def remove_orphan_uploads(
    settings: Settings,
    database: Database,
    *,
    older_than_s: float = ORPHAN_MIN_AGE_S,
) -> list[Path]:
    """Remove the folders of browser uploads (``uploads/<hex>``, moodlab.images.uploads
    and moodlab.video.uploads) that no job's params name and that are older than
    ``older_than_s``: those whose job was never queued (a crash between the save and
    the commit). Returns what was removed."""
    uploads = Path(settings.data_dir) / "uploads"
    candidates = [
        folder
        for folder in (uploads.iterdir() if uploads.is_dir() else [])
        if _UPLOAD_FOLDER.fullmatch(folder.name)
        and folder.is_dir()
        and not folder.is_symlink()
        and _age(folder) > older_than_s
    ]
    if not candidates:
        return []
    with database.session() as session:
        named = "\n".join(json.dumps(params) for params in session.scalars(select(Job.params)))
    removed = [folder for folder in candidates if folder.name not in named]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    if removed:
        log.info("removed %d upload folders that no job names", len(removed))
    return removed


def _stored_files(root: Path) -> list[tuple[str, str]]:
    """(path, sha256) of each stored image file (temp files and others passed over)."""
    found: list[tuple[str, str]] = []
    folders = [str(root / folder) for folder in IMAGE_FOLDERS]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):  # the entry's type: no stat
                        folders.append(entry.path)
                    elif match := _STORED_NAME.fullmatch(entry.name):
                        found.append((entry.path, match.group(1)))
        except FileNotFoundError:
            continue
    return found


def _age(path: str | Path) -> float:
    try:
        return time.time() - os.lstat(path).st_mtime
    except FileNotFoundError:
        return 0.0  # gone meanwhile: nothing to remove


def _named(database: Database, sha256s: list[str]) -> set[str]:
    """Which of ``sha256s`` an image row names."""
    named: set[str] = set()
    with database.session() as session:
        for start in range(0, len(sha256s), _QUERY_CHUNK):
            chunk = sha256s[start : start + _QUERY_CHUNK]
            named.update(session.scalars(select(Image.sha256).where(Image.sha256.in_(chunk))))
    return named

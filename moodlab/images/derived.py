"""Derived copies (display copy, training thumbnail): checked at start, rebuilt from originals.

What a power cut may cost: an original is fsynced and its folder synced before the
batch that names it is committed, so every image row has its original, whole. The
derived copies are written whole under their names (renamed) but not fsynced, so
the newest ones may be empty or cut short after a power cut; they are made again
from the original, which is what this module does for the newest images when a
worker starts (``moodlab worker``, ``moodlab serve``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Image
from moodlab.core.storage import ContentStore, StorageError
from moodlab.images.checks import Rejected, check_image
from moodlab.images.intake import display_path, thumbnail_path

log = logging.getLogger("moodlab.images")

# Images checked at start, newest first: a power cut can only have cost the copies
# written in the last seconds before it (the kernel writes dirty pages within 30 s).
RECENT_IMAGES_CHECKED = 2000
_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"


def _whole(path: Path, ending: bytes) -> bool:
    """The file exists and ends as its format ends (a cut or zeroed file does not)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            if size < 16:
                return False
            handle.seek(max(0, size - 64))
            return ending in handle.read()
    except OSError:
        return False


def repair_derived(
    settings: Settings, database: Database, *, recent: int = RECENT_IMAGES_CHECKED
) -> int:
    """Check the newest images' derived copies; rebuild the bad ones. How many were rebuilt."""
    store = ContentStore(settings.data_dir)
    with database.session() as session:
        rows = session.execute(
            select(Image.sha256, Image.original_suffix).order_by(Image.id.desc()).limit(recent)
        ).all()
    rebuilt = 0
    for sha256, suffix in rows:
        display, thumbnail = display_path(store, sha256), thumbnail_path(store, sha256)
        if _whole(display, _JPEG_END) and _whole(thumbnail, _PNG_END):
            continue
        try:
            data = store.read_bytes(sha256, suffix)
            checked = check_image(
                data,
                max_pixels=settings.max_image_pixels,
                min_side=1,
                max_bytes=max(len(data), settings.max_image_bytes),
                max_memory=settings.max_image_memory,
            )
            display.unlink(missing_ok=True)
            thumbnail.unlink(missing_ok=True)
            if checked.display_encoded is None:
                store.link_new(store.path_for(sha256, suffix), display)
            else:
                store.write_new(display, checked.display_encoded)
            store.write_new(thumbnail, checked.thumbnail_png)
            rebuilt += 1
        except (StorageError, Rejected) as exc:
            log.warning("image %s: cannot rebuild its derived copies: %s", sha256, exc)
    if rebuilt:
        log.info("rebuilt the display copy or thumbnail of %d images", rebuilt)
    return rebuilt

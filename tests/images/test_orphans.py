"""Stored image files that no row names (a crash's leftovers) go when a worker starts;
files being written, or just written and waiting for their row, stay."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import select

from moodlab.core.models import Image
from moodlab.core.storage import ContentStore, writer_token
from moodlab.images.intake import Intake, Provenance, display_path, thumbnail_path
from moodlab.images.orphans import ORPHAN_MIN_AGE_S, remove_orphan_uploads, remove_orphans
from moodlab.images.uploads import save_uploads, start_upload_import
from tests import media
from tests.conftest import run_cli

HOURS_AGO = time.time() - 2 * ORPHAN_MIN_AGE_S


def image_files(store: ContentStore, sha256: str, suffix: str) -> list:
    return [
        store.path_for(sha256, suffix),
        display_path(store, sha256),
        thumbnail_path(store, sha256),
    ]


def plant(store: ContentStore, data: bytes, suffix: str, *, mtime: float | None = None) -> list:
    """An image's three files with no row, as a crash before its batch's commit leaves them."""
    sha256 = hashlib.sha256(data).hexdigest()
    files = image_files(store, sha256, suffix)
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    return files


def test_a_worker_start_removes_old_orphans_and_leaves_fresh_and_named_files(settings, database):
    store = ContentStore(settings.data_dir)
    intake = Intake(settings, database)
    intake.stage(intake.check(media.jpeg(1, (300, 200))), Provenance(source="kept.jpg"))
    intake.flush()
    with database.session() as session:
        kept_sha = session.scalars(select(Image.sha256)).one()
    named = image_files(store, kept_sha, ".jpg")
    for path in named:  # old, but a row names them
        os.utime(path, (HOURS_AGO, HOURS_AGO))
    orphan = plant(store, media.jpeg(2), ".jpg", mtime=HOURS_AGO)
    fresh = plant(store, media.jpeg(3), ".jpg")  # its row may be a batch away
    # A write in progress: atomic_write's temp name, of this (live) process.
    in_progress = orphan[0].parent / f".{'f' * 64}.jpg.{writer_token()}.abc123.tmp"
    in_progress.write_bytes(b"half an image")
    upload = old_upload_folder(settings)  # saved, its job never queued

    assert run_cli("worker", "--once").returncode == 0  # the command hands it the sweeps

    assert not any(path.exists() for path in orphan)
    assert all(path.exists() for path in named + fresh)
    assert in_progress.exists()
    assert not upload.exists()


def old_upload_folder(settings):
    path, _names = save_uploads(settings, [("a.jpg", media.jpeg(9))])
    folder = path if path.is_dir() else path.parent
    os.utime(folder, (HOURS_AGO, HOURS_AGO))
    return folder


def test_upload_folders_no_job_names_go_once_old(settings, database, lead):
    unnamed = old_upload_folder(settings)
    fresh, _names = save_uploads(settings, [("b.jpg", media.jpeg(10))])
    with database.session() as session:
        job = start_upload_import(
            session=session, actor=lead, settings=settings, files=[("c.jpg", media.jpeg(11))]
        )
        named = Path(job.params["path"])
    os.utime(named, (HOURS_AGO, HOURS_AGO))
    assert remove_orphan_uploads(settings, database) == [unnamed]
    assert fresh.is_dir() and named.is_dir()


def test_an_old_original_found_again_by_an_intake_is_fresh_and_kept(settings, database):
    store = ContentStore(settings.data_dir)
    data = media.png(4, (300, 200))
    original = store.path_for(hashlib.sha256(data).hexdigest(), ".png")
    original.parent.mkdir(parents=True)
    original.write_bytes(data)  # a crash's: written, never named by a row
    os.utime(original, (HOURS_AGO, HOURS_AGO))
    intake = Intake(settings, database)
    intake.stage(intake.check(data), Provenance(source="again.png"))  # reuses the file
    assert remove_orphans(settings, database) == []  # its row is a batch away: not touched
    intake.flush()
    assert intake.report.stored == 1
    assert original.read_bytes() == data

"""Storing checked images once: exact and near-duplicate detection, files, rows.

Every way images arrive (crawl, folder or zip import, Openverse) ends here, so
they all get the same checks, the same derived files and the same report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Image
from moodlab.core.storage import ContentStore, sync_folder, touch
from moodlab.images.checks import CheckedImage, Rejected, check_image
from moodlab.images.report import MAX_LISTED, IntakeReport
from moodlab.images.report import IntakeResult as IntakeResult
from moodlab.images.report import job_result as job_result
from moodlab.images.similarity import PENDING, SMOOTH_TEXTURE, ImageIndex, Match, load_index

# Staged images (a crawl's) are committed in batches: SQLite has one writer, and a
# commit per image (an fsync each) made storing the slow part of a crawl. A batch is
# committed at this many rows, or when its oldest row has waited this long.
BATCH_ROWS = 50
BATCH_SECONDS = 1.0


def display_path(store: ContentStore, sha256: str) -> Path:
    return store.derived_path(sha256, "display", ".jpg")


def thumbnail_path(store: ContentStore, sha256: str) -> Path:
    """The 128x128 RGB PNG that training reads (moodlab.images.resize's center-crop rule)."""
    return store.derived_path(sha256, "thumb128", ".png")


@dataclass
class Provenance:
    source: str  # what the report calls it: a URL, a path, or zip:member
    source_url: str | None = None
    page_url: str | None = None
    alt_text: str | None = None
    license: str | None = None
    attribution: str | None = None


def held_dir(settings: Settings, job_id: int) -> Path:
    """Where a job keeps its near-duplicate candidates, so the lead can keep both."""
    return settings.data_dir / "held" / f"job{job_id}"


class Intake:
    """Checks and stores images for one run; safe to call from several threads."""

    def __init__(self, settings: Settings, database: Database, *, job_id: int | None = None):
        self.settings = settings
        self.database = database
        self.store = ContentStore(settings.data_dir)
        self.job_id = job_id
        self.index: ImageIndex = load_index(database, lambda sha: display_path(self.store, sha))
        self.report = IntakeReport()
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()  # one batch commit at a time
        self._staged: list[_Staged] = []  # files written, rows not yet committed
        self._oldest_staged = 0.0
        self._in_hand = 0  # staged images being written or committed
        self._awaiting: dict[int, list[dict[str, Any]]] = {}  # near-duplicates of pending ones

    @property
    def pending(self) -> int:
        """Images accepted but not yet committed (counted against a crawl's limit)."""
        with self._lock:
            return self._in_hand

    def check(self, data: bytes) -> CheckedImage:
        """Raises Rejected; CPU-heavy, so callers may run it in worker threads."""
        return check_image(
            data,
            max_pixels=self.settings.max_image_pixels,
            min_side=self.settings.min_image_side,
            max_bytes=self.settings.max_image_bytes,
            max_memory=self.settings.max_image_memory,
        )

    def add_bytes(self, data: bytes, provenance: Provenance) -> int | None:
        """Check and store; the new image's id, or None (duplicate or rejected, reported)."""
        try:
            checked = self.check(data)
        except Rejected as rejected:
            self.reject(provenance.source, rejected)
            return None
        return self.add_checked(checked, provenance)

    def reject(self, source: str, rejected: Rejected) -> None:
        with self._lock:
            self.report.reject(source, rejected.kind, rejected.reason)

    def add_checked(self, checked: CheckedImage, provenance: Provenance) -> int | None:
        with self._lock:
            if self._reported_duplicate(checked, provenance):
                return None
            image_id = self._store(checked, provenance)
            if image_id is None:
                self.report.duplicate(provenance.source, "duplicate (stored meanwhile)")
                return None
            self.index.add(image_id, checked.sha256, checked.phash, checked.colour_layout)
            self._count_stored(image_id)
            return image_id

    def store_anyway(self, checked: CheckedImage, provenance: Provenance) -> int | None:
        """Store without the near-duplicate check: the lead chose to keep both."""
        with self._lock:
            image_id = self._store(checked, provenance)
            if image_id is not None:
                self.index.add(image_id, checked.sha256, checked.phash, checked.colour_layout)
                self.report.stored += 1
            return image_id

    def _hold(self, checked: CheckedImage, provenance: Provenance) -> dict[str, Any]:
        """Keep a near-duplicate's bytes and display copy for the lead to compare and keep.

        Only the listed ones (MAX_LISTED a run) are held, under data/held/job<N>/.
        """
        if self.job_id is None or len(self.report.duplicate_sources) >= MAX_LISTED:
            return {}  # keeping both goes through the job's record: no job, nothing held
        folder = held_dir(self.settings, self.job_id)
        original = folder / f"{checked.sha256}{checked.suffix}"
        preview = folder / f"{checked.sha256}.preview.jpg"
        written = []
        try:
            for path, data in ((original, checked.data), (preview, checked.display_jpeg)):
                if self.store.write_new(path, data):
                    written.append(path)
        except BaseException:
            _remove(written)
            raise
        return {
            "sha256": checked.sha256,
            "held": str(original.relative_to(self.settings.data_dir)),
            "preview": str(preview.relative_to(self.settings.data_dir)),
            "provenance": asdict(provenance),
        }

    def _duplicate_reason(self, checked: CheckedImage) -> tuple[str, Match | None] | None:
        """Why ``checked`` is a duplicate (and the near one it resembles), or None."""
        if checked.sha256 in self.index.by_sha:
            return f"duplicate of {_image(self.index.by_sha[checked.sha256])} (same bytes)", None
        match = self.index.match(
            checked.phash,
            checked.colour_layout,
            max_bits=self.settings.near_duplicate_distance,
            max_colour=self.settings.near_duplicate_colour,
            smooth=checked.texture < SMOOTH_TEXTURE,
        )
        if match is None:
            return None
        return f"near-duplicate of {_image(match.image_id)} ({match.describe()})", match

    def _reported_duplicate(self, checked: CheckedImage, provenance: Provenance) -> bool:
        """Under the lock: whether ``checked`` duplicates a known image (reported so, a
        near-duplicate held); one resembling a pending image is named once that has its id.
        """
        found = self._duplicate_reason(checked)
        if found is None:
            return False
        reason, match = found
        if match is None:
            self.report.duplicate(provenance.source, reason)
            return True
        held = self._hold(checked, provenance)
        self.report.duplicate(provenance.source, reason, duplicate_of=match.image_id, **held)
        if match.image_id == PENDING and held:
            self._awaiting.setdefault(match.position, []).append(self.report.duplicate_sources[-1])
        return True

    def _settle(self, position: int, sha256: str, image_id: int | None) -> None:
        """Under the lock: settle a pending image, and name it in near-duplicates of it."""
        self.index.settle(position, sha256, image_id)
        for entry in self._awaiting.pop(position, []):
            if image_id is not None:
                entry["duplicate_of"] = image_id
                entry["reason"] = entry["reason"].replace(_image(PENDING), _image(image_id))

    # -- staged images: files now, rows in batches (a crawl's storing workers) ---------------

    def stage(self, checked: CheckedImage, provenance: Provenance) -> bool:
        """Store ``checked``'s files and queue its row for the next batch; False: a duplicate.

        Safe from several threads. The row is committed by a later ``flush`` (called here
        when a batch is due); until then the image counts as ``pending``.
        """
        with self._lock:
            if self._reported_duplicate(checked, provenance):
                return False
            position = self.index.add(PENDING, checked.sha256, checked.phash, checked.colour_layout)
            self._in_hand += 1
        try:
            written = self._write_files(checked)
        except BaseException:
            with self._lock:
                self._settle(position, checked.sha256, None)
                self._in_hand -= 1
            raise
        with self._lock:
            if not self._staged:
                self._oldest_staged = time.monotonic()
            self._staged.append(_Staged(checked, provenance, position, written))
        self.flush(force=False)
        return True

    def flush_due(self) -> bool:
        """Whether staged rows have waited long enough for a commit of their own."""
        with self._lock:
            return bool(self._staged) and time.monotonic() - self._oldest_staged >= BATCH_SECONDS

    def flush(self, *, force: bool = True) -> None:
        """Commit the staged rows in one transaction (only when a batch is due, unless force)."""
        with self._lock:
            waited = time.monotonic() - self._oldest_staged
            due = len(self._staged) >= BATCH_ROWS or waited >= BATCH_SECONDS
            if not self._staged or not (force or due):
                return
            batch, self._staged = self._staged, []
        with self._commit_lock:
            try:
                _sync_folders({self._original(item.checked).parent for item in batch})
                self._commit(batch)
            except BaseException:
                # The rows that did not make it take their new files with them.
                _remove(path for item in batch if item.image_id is None for path in item.written)
                with self._lock:
                    for item in batch:
                        self._settle(item.position, item.checked.sha256, item.image_id)
                        if item.image_id is not None:  # committed on its own before the fault
                            self._count_stored(item.image_id)
                    self._in_hand -= len(batch)
                raise
        with self._lock:
            for item in batch:
                self._settle(item.position, item.checked.sha256, item.image_id)
                if item.image_id is None:
                    self.report.duplicate(item.provenance.source, "duplicate (stored meanwhile)")
                else:
                    self._count_stored(item.image_id)
            self._in_hand -= len(batch)

    def _count_stored(self, image_id: int) -> None:
        self.report.stored += 1
        self.report.image_ids.append(image_id)

    def _commit(self, batch: list[_Staged]) -> None:
        """Commit the batch's rows, setting each item's ``image_id`` once its row is in;
        None stays for one another run stored meanwhile (its files are that run's too)."""
        try:
            with self.database.session() as session:
                rows = [self._row(item.checked, item.provenance) for item in batch]
                session.add_all(rows)
                session.flush()
                ids = [row.id for row in rows]
        except IntegrityError:  # another run stored some of these meanwhile: one by one
            for item in batch:
                try:
                    with self.database.session() as session:
                        row = self._row(item.checked, item.provenance)
                        session.add(row)
                        session.flush()
                        image_id = row.id
                except IntegrityError:
                    item.written = []  # the same bytes are another run's row's files now
                else:
                    item.image_id = image_id
            return
        for item, image_id in zip(batch, ids, strict=True):
            item.image_id = image_id

    def _original(self, checked: CheckedImage) -> Path:
        return self.store.path_for(checked.sha256, checked.suffix)

    def _write_files(self, checked: CheckedImage) -> list[Path]:
        """The original durably (fsynced, renamed); the derived copies renamed whole.

        Returns the files this call made. When one cannot be written (a full disk), the
        ones made before it are removed: a failed image leaves no file (docs/security.md,
        "What a refusal leaves"). The display copy is a hard link to the original when
        the original fits as it is.
        """
        written: list[Path] = []
        original = self._original(checked)
        try:
            if self.store.write_new(original, checked.data):
                written.append(original)
            else:
                # An original no row names yet (a crash's, a concurrent run's) is used
                # as it is: fresh again, the start-up sweep of orphans leaves it alone.
                touch(original)
            display = display_path(self.store, checked.sha256)
            if checked.display_encoded is None:
                if self.store.link_new(original, display):
                    written.append(display)
            elif self.store.write_new(display, checked.display_encoded, durable=False):
                written.append(display)
            thumbnail = thumbnail_path(self.store, checked.sha256)
            if self.store.write_new(thumbnail, checked.thumbnail_png, durable=False):
                written.append(thumbnail)
        except BaseException:
            _remove(written)
            raise
        return written

    def _row(self, checked: CheckedImage, provenance: Provenance) -> Image:
        return Image(
            sha256=checked.sha256,
            phash=checked.phash,
            colour_layout=checked.colour_layout,
            original_suffix=checked.suffix,
            width=checked.width,
            height=checked.height,
            source_url=provenance.source_url,
            page_url=provenance.page_url,
            alt_text=provenance.alt_text,
            original_name=None if provenance.source_url else provenance.source,
            license=provenance.license,
            attribution=provenance.attribution,
            job_id=self.job_id,
        )

    def _store(self, checked: CheckedImage, provenance: Provenance) -> int | None:
        """Files first (each atomic), then the row; a failed row takes its new files back.

        None when another run stored the same bytes meanwhile.
        """
        written: list[Path] = []  # _write_files removes its own files when it fails
        try:
            written = self._write_files(checked)
            _sync_folders({self._original(checked).parent})
            with self.database.session() as session:
                image = self._row(checked, provenance)
                session.add(image)
                session.flush()
                return image.id
        except IntegrityError:
            # Another run stored the same bytes a moment ago: the files are theirs too.
            return None
        except BaseException:
            _remove(written)
            raise


@dataclass
class _Staged:
    checked: CheckedImage
    provenance: Provenance
    position: int  # in the index
    written: list[Path]  # the files this run made for it, removed if its row fails
    image_id: int | None = None  # once its row is committed


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _image(image_id: int) -> str:
    return "image (of this run, being stored)" if image_id == PENDING else f"image {image_id}"


def _sync_folders(folders: set[Path]) -> None:
    """fsync folders, so that the renames into them last before a row names the files."""
    for folder in folders:
        sync_folder(folder)


def recent_images(*, session: Session, job_id: int | None = None, limit: int = 24) -> list[Image]:
    """The newest images, of one intake job when ``job_id`` is given."""
    query = select(Image).order_by(Image.id.desc()).limit(limit)
    if job_id is not None:
        query = query.where(Image.job_id == job_id)
    return list(session.scalars(query))

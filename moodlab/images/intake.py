"""Storing checked images once: exact and near-duplicate detection, files, rows.

Every way images arrive (crawl, folder or zip import, Openverse) ends here, so
they all get the same checks, the same derived files and the same report.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Image
from moodlab.core.storage import ContentStore
from moodlab.core.text import label, plural
from moodlab.images.checks import CheckedImage, Rejected, check_image
from moodlab.jobs.context import JobFailed, JobResult

# How many rejections a report lists one by one; the counts by reason are complete.
MAX_LISTED = 1000
# Staged images (a crawl's) are committed in batches: SQLite has one writer, and a
# commit per image (an fsync each) made storing the slow part of a crawl. A batch is
# committed at this many rows, or when its oldest row has waited this long.
BATCH_ROWS = 50
BATCH_SECONDS = 1.0
PENDING = 0  # the index's image id for an image whose row is not committed yet


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


@dataclass
class IntakeReport:
    """What one intake run did; ``as_dict`` is the CLI's and the job's JSON."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    rejected_by_reason: Counter = field(default_factory=Counter)
    duplicate_sources: list[dict[str, str]] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def reject(self, source: str, kind: str, reason: str) -> None:
        self.rejected_by_reason[kind] += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append({"source": source, "reason": reason, "kind": kind})

    def duplicate(self, source: str, reason: str) -> None:
        self.duplicates += 1
        self.duplicate_sources.append({"source": source, "reason": reason})

    def as_dict(self, job_id: int | None = None) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": list(self.rejected),
            "rejected_by_reason": dict(self.rejected_by_reason),
            "duplicate_sources": list(self.duplicate_sources[:MAX_LISTED]),
            "image_ids": list(self.image_ids[-200:]),
            "job_id": job_id,
            **self.extra,
        }


@dataclass(frozen=True)
class IntakeResult(JobResult):
    """A crawl's, an import's or an Openverse search's result, as the pages read it."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    pages_fetched: int | None = None  # crawls
    images_found: int | None = None  # crawls
    files: int | None = None  # imports

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected_by_reason.values())

    def summary(self) -> str:
        parts = [f"{self.stored:,} stored", plural(self.duplicates, "duplicate"),
                 f"{self.rejected_count:,} rejected"]  # fmt: skip
        if self.pages_fetched is not None:
            parts.insert(0, plural(self.pages_fetched, "page"))
        return ", ".join(parts)


def job_result(report: IntakeReport, job_id: int | None, *, what: str = "input") -> dict[str, Any]:
    """The job's result, or JobFailed when nothing was stored and nothing was a duplicate:
    an intake whose every input was refused (or that found none) is no success. The
    message gives each reason's count and its first explanation, which names the fix."""
    result = report.as_dict(job_id)
    if report.stored or report.duplicates:
        return result
    if not report.rejected_by_reason:
        raise JobFailed(f"nothing stored: no {what} found", result)
    first: dict[str, str] = {}
    for row in report.rejected:
        first.setdefault(row["kind"], row["reason"])
    reasons = "; ".join(
        f"{label(kind)} ({n:,})" + (f": {first[kind]}" if kind in first else "")
        for kind, n in report.rejected_by_reason.most_common()
    )
    total = sum(report.rejected_by_reason.values())
    everything = "the one" if total == 1 else f"all {total:,}"
    raise JobFailed(f"nothing stored: {everything} {what}{'' if total == 1 else 's'} refused."
                    f" {reasons}", result)  # fmt: skip


class ImageIndex:
    """Known sha256s and perceptual hashes, for duplicate checks without a query each.

    The hashes live in a numpy array that doubles when full (appending one by one
    with np.append copies the whole array each time: quadratic over a crawl).
    """

    def __init__(self, rows: list[tuple[int, str, str]]):
        self.by_sha = {sha: image_id for image_id, sha, _ in rows}
        self._ids = [image_id for image_id, _, phash in rows if phash]
        known = [int(p, 16) for _, _, p in rows if p]
        self._hashes = np.zeros(max(1024, 2 * len(known)), dtype=np.uint64)
        self._hashes[: len(known)] = known
        self._valid = np.zeros(len(self._hashes), dtype=bool)
        self._valid[: len(known)] = True
        self._count = len(known)

    @classmethod
    def load(cls, database: Database) -> ImageIndex:
        with database.session() as session:
            rows = session.execute(select(Image.id, Image.sha256, Image.phash)).all()
        return cls([(image_id, sha, phash) for image_id, sha, phash in rows])

    def __len__(self) -> int:
        return self._count

    def nearest(self, phash: str) -> tuple[int, int] | None:
        """(image id, Hamming distance) of the closest known perceptual hash."""
        if not self._valid[: self._count].any():
            return None
        xor = np.bitwise_xor(self._hashes[: self._count], np.uint64(int(phash, 16)))
        distances = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        distances[~self._valid[: self._count]] = 255
        best = int(np.argmin(distances))
        return self._ids[best], int(distances[best])

    def add(self, image_id: int, sha256: str, phash: str) -> int:
        """Add an image (``PENDING`` until its row exists); its position in the index."""
        if self._count == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._valid = np.concatenate([self._valid, np.zeros_like(self._valid)])
        position = self._count
        self._hashes[position] = np.uint64(int(phash, 16))
        self._valid[position] = True
        self._ids.append(image_id)
        self._count += 1
        self.by_sha[sha256] = image_id
        return position

    def settle(self, position: int, sha256: str, image_id: int | None) -> None:
        """A pending image got its row (``image_id``) or was dropped (None)."""
        if image_id is None:
            self._valid[position] = False
            self.by_sha.pop(sha256, None)
        else:
            self._ids[position] = image_id
            self.by_sha[sha256] = image_id


class Intake:
    """Checks and stores images for one run; safe to call from several threads."""

    def __init__(self, settings: Settings, database: Database, *, job_id: int | None = None):
        self.settings = settings
        self.database = database
        self.store = ContentStore(settings.data_dir)
        self.job_id = job_id
        self.index = ImageIndex.load(database)
        self.report = IntakeReport()
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()  # one batch commit at a time
        self._staged: list[_Staged] = []  # files written, rows not yet committed
        self._oldest_staged = 0.0
        self._in_hand = 0  # staged images being written or committed

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
            duplicate = self._duplicate_reason(checked)
            if duplicate:
                self.report.duplicate(provenance.source, duplicate)
                return None
            image_id = self._store(checked, provenance)
            if image_id is None:
                self.report.duplicate(provenance.source, "duplicate (stored meanwhile)")
                return None
            self.index.add(image_id, checked.sha256, checked.phash)
            self.report.stored += 1
            self.report.image_ids.append(image_id)
            return image_id

    def _duplicate_reason(self, checked: CheckedImage) -> str | None:
        if checked.sha256 in self.index.by_sha:
            return f"duplicate of {_image(self.index.by_sha[checked.sha256])} (same bytes)"
        nearest = self.index.nearest(checked.phash)
        if nearest and nearest[1] <= self.settings.near_duplicate_distance:
            return f"near-duplicate of {_image(nearest[0])} (perceptual hash distance {nearest[1]})"
        return None

    # -- staged images: files now, rows in batches (a crawl's storing workers) ---------------

    def stage(self, checked: CheckedImage, provenance: Provenance) -> bool:
        """Store ``checked``'s files and queue its row for the next batch; False: a duplicate.

        Safe from several threads. The row is committed by a later ``flush`` (called here
        when a batch is due); until then the image counts as ``pending``.
        """
        with self._lock:
            duplicate = self._duplicate_reason(checked)
            if duplicate:
                self.report.duplicate(provenance.source, duplicate)
                return False
            position = self.index.add(PENDING, checked.sha256, checked.phash)
            self._in_hand += 1
        try:
            self._write_files(checked)
        except BaseException:
            with self._lock:
                self.index.settle(position, checked.sha256, None)
                self._in_hand -= 1
            raise
        with self._lock:
            if not self._staged:
                self._oldest_staged = time.monotonic()
            self._staged.append(_Staged(checked, provenance, position))
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
                ids = self._commit(batch)
            except BaseException:
                with self._lock:
                    for item in batch:
                        self.index.settle(item.position, item.checked.sha256, None)
                    self._in_hand -= len(batch)
                raise
        with self._lock:
            for item, image_id in zip(batch, ids, strict=True):
                self.index.settle(item.position, item.checked.sha256, image_id)
                if image_id is None:
                    self.report.duplicate(item.provenance.source, "duplicate (stored meanwhile)")
                else:
                    self.report.stored += 1
                    self.report.image_ids.append(image_id)
            self._in_hand -= len(batch)

    def _commit(self, batch: list[_Staged]) -> list[int | None]:
        try:
            with self.database.session() as session:
                rows = [self._row(item.checked, item.provenance) for item in batch]
                session.add_all(rows)
                session.flush()
                return [row.id for row in rows]
        except IntegrityError:  # another run stored some of these meanwhile: one by one
            ids: list[int | None] = []
            for item in batch:
                try:
                    with self.database.session() as session:
                        row = self._row(item.checked, item.provenance)
                        session.add(row)
                        session.flush()
                        ids.append(row.id)
                except IntegrityError:
                    ids.append(None)
            return ids

    def _original(self, checked: CheckedImage) -> Path:
        return self.store.path_for(checked.sha256, checked.suffix)

    def _write_files(self, checked: CheckedImage) -> list[Path]:
        """The original durably (fsynced, renamed); the derived copies renamed whole.

        The display copy is a hard link to the original when the original fits as it is.
        """
        written: list[Path] = []
        original = self._original(checked)
        if self.store.write_new(original, checked.data):
            written.append(original)
        display = display_path(self.store, checked.sha256)
        if checked.display_encoded is None:
            if self.store.link_new(original, display):
                written.append(display)
        elif self.store.write_new(display, checked.display_encoded, durable=False):
            written.append(display)
        thumbnail = thumbnail_path(self.store, checked.sha256)
        if self.store.write_new(thumbnail, checked.thumbnail_png, durable=False):
            written.append(thumbnail)
        return written

    def _row(self, checked: CheckedImage, provenance: Provenance) -> Image:
        return Image(
            sha256=checked.sha256, phash=checked.phash, original_suffix=checked.suffix,
            width=checked.width, height=checked.height, source_url=provenance.source_url,
            page_url=provenance.page_url, alt_text=provenance.alt_text,
            license=provenance.license, attribution=provenance.attribution, job_id=self.job_id,
        )  # fmt: skip

    def _store(self, checked: CheckedImage, provenance: Provenance) -> int | None:
        """Files first (each atomic), then the row; a failed row takes its new files back.

        None when another run stored the same bytes meanwhile.
        """
        written: list[Path] = []
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
            for path in written:
                path.unlink(missing_ok=True)
            raise


@dataclass
class _Staged:
    checked: CheckedImage
    provenance: Provenance
    position: int  # in the index


def _image(image_id: int) -> str:
    return "image (of this run, being stored)" if image_id == PENDING else f"image {image_id}"


def _sync_folders(folders: set[Path]) -> None:
    """fsync folders, so that the renames into them last before a row names the files."""
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def recent_images(*, session: Session, job_id: int | None = None, limit: int = 24) -> list[Image]:
    """The newest images, of one intake job when ``job_id`` is given."""
    query = select(Image).order_by(Image.id.desc()).limit(limit)
    if job_id is not None:
        query = query.where(Image.job_id == job_id)
    return list(session.scalars(query))

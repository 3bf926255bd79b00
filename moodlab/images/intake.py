"""Storing checked images once: exact and near-duplicate detection, files, rows.

Every way images arrive (crawl, folder or zip import, Openverse) ends here, so
they all get the same checks, the same derived files and the same report.
"""

from __future__ import annotations

import threading
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
    """Known sha256s and perceptual hashes, for duplicate checks without a query each."""

    def __init__(self, rows: list[tuple[int, str, str]]):
        self.by_sha = {sha: image_id for image_id, sha, _ in rows}
        self._ids = [image_id for image_id, _, phash in rows if phash]
        self._hashes = np.array([int(p, 16) for _, _, p in rows if p], dtype=np.uint64)

    @classmethod
    def load(cls, database: Database) -> ImageIndex:
        with database.session() as session:
            rows = session.execute(select(Image.id, Image.sha256, Image.phash)).all()
        return cls([(image_id, sha, phash) for image_id, sha, phash in rows])

    def nearest(self, phash: str) -> tuple[int, int] | None:
        """(image id, Hamming distance) of the closest known perceptual hash."""
        if not len(self._hashes):
            return None
        xor = np.bitwise_xor(self._hashes, np.uint64(int(phash, 16)))
        distances = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        best = int(np.argmin(distances))
        return self._ids[best], int(distances[best])

    def add(self, image_id: int, sha256: str, phash: str) -> None:
        self.by_sha[sha256] = image_id
        self._ids.append(image_id)
        self._hashes = np.append(self._hashes, np.uint64(int(phash, 16)))


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
            return f"duplicate of image {self.index.by_sha[checked.sha256]} (same bytes)"
        nearest = self.index.nearest(checked.phash)
        if nearest and nearest[1] <= self.settings.near_duplicate_distance:
            return f"near-duplicate of image {nearest[0]} (perceptual hash distance {nearest[1]})"
        return None

    def _store(self, checked: CheckedImage, provenance: Provenance) -> int | None:
        """Files first (each atomic), then the row; a failed row takes its new files back.

        None when another run stored the same bytes meanwhile.
        """
        written: list[Path] = []
        try:
            for path, data in (
                (self.store.path_for(checked.sha256, checked.suffix), checked.data),
                (display_path(self.store, checked.sha256), checked.display_jpeg),
                (thumbnail_path(self.store, checked.sha256), checked.thumbnail_png),
            ):
                if self.store.write_new(path, data):
                    written.append(path)
            with self.database.session() as session:
                image = Image(
                    sha256=checked.sha256,
                    phash=checked.phash,
                    original_suffix=checked.suffix,
                    width=checked.width,
                    height=checked.height,
                    source_url=provenance.source_url,
                    page_url=provenance.page_url,
                    alt_text=provenance.alt_text,
                    license=provenance.license,
                    attribution=provenance.attribution,
                    job_id=self.job_id,
                )
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


def recent_images(*, session: Session, job_id: int | None = None, limit: int = 24) -> list[Image]:
    """The newest images, of one intake job when ``job_id`` is given."""
    query = select(Image).order_by(Image.id.desc()).limit(limit)
    if job_id is not None:
        query = query.where(Image.job_id == job_id)
    return list(session.scalars(query))

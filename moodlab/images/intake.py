"""Storing checked images once: exact and near-duplicate detection, files, rows.

Every way images arrive (crawl, folder or zip import, Openverse) ends here, so
they all get the same checks, the same derived files and the same report.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.models import Image
from moodlab.core.storage import ContentStore
from moodlab.images.checks import CheckedImage, Rejected, check_image
from moodlab.images.similarity import SMOOTH_TEXTURE, ImageIndex, colour_layout
from moodlab.jobs.context import JobResult

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

    def duplicate(self, source: str, reason: str, **near: Any) -> None:
        """``near``: for a near-duplicate, what the page needs to show both and keep both."""
        self.duplicates += 1
        if len(self.duplicate_sources) < MAX_LISTED:
            self.duplicate_sources.append({"source": source, "reason": reason, **near})

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
    duplicate_sources: list[dict[str, Any]] = field(default_factory=list)
    pages_fetched: int | None = None  # crawls
    images_found: int | None = None  # crawls
    files: int | None = None  # imports

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def near_duplicates(self) -> list[dict[str, Any]]:
        """Near-duplicate rejections whose candidate is held, so both can be shown and kept."""
        return [d for d in self.duplicate_sources if d.get("duplicate_of") and d.get("held")]


def load_index(database: Database, store: ContentStore) -> ImageIndex:
    """The index of stored images; images stored before colour layouts get theirs now.

    Their layout is read from the display copy and written to the row; one whose display
    copy is missing is judged by structure alone (moodlab.images.similarity).
    """
    with database.session() as session:
        found = session.execute(
            select(Image.id, Image.sha256, Image.phash, Image.colour_layout)
        ).all()
    rows: list[tuple[int, str, str, str]] = [(r[0], r[1], r[2], r[3]) for r in found]
    backfill = {}
    for i, (image_id, sha, phash, layout) in enumerate(rows):
        if layout or not phash:
            continue
        try:
            with PILImage.open(display_path(store, sha)) as display:
                backfill[image_id] = colour_layout(display)
        except (OSError, ValueError):
            continue
        rows[i] = (image_id, sha, phash, backfill[image_id])
    if backfill:
        with database.session() as session:
            for image_id, layout in backfill.items():
                session.execute(
                    update(Image).where(Image.id == image_id).values(colour_layout=layout)
                )
    return ImageIndex(rows)


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
        self.index = load_index(database, self.store)
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
            if checked.sha256 in self.index.by_sha:
                known = self.index.by_sha[checked.sha256]
                self.report.duplicate(provenance.source, f"duplicate of image {known} (same bytes)")
                return None
            match = self.index.match(
                checked.phash,
                checked.colour_layout,
                max_bits=self.settings.near_duplicate_distance,
                max_colour=self.settings.near_duplicate_colour,
                smooth=checked.texture < SMOOTH_TEXTURE,
            )
            if match is not None:
                self.report.duplicate(
                    provenance.source,
                    f"near-duplicate of image {match.image_id} ({match.describe()})",
                    duplicate_of=match.image_id,
                    **self._hold(checked, provenance),
                )
                return None
            image_id = self._store(checked, provenance)
            if image_id is None:
                self.report.duplicate(provenance.source, "duplicate (stored meanwhile)")
                return None
            self.index.add(image_id, checked.sha256, checked.phash, checked.colour_layout)
            self.report.stored += 1
            self.report.image_ids.append(image_id)
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
        self.store.write_new(original, checked.data)
        self.store.write_new(preview, checked.display_jpeg)
        return {
            "sha256": checked.sha256,
            "held": str(original.relative_to(self.settings.data_dir)),
            "preview": str(preview.relative_to(self.settings.data_dir)),
            "provenance": asdict(provenance),
        }

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
                    colour_layout=checked.colour_layout,
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

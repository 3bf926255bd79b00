"""The image pool, browsable: every stored image by page, filtered and searched, one image
in full with its votes and provenance, and the lead's actions on many images at once.

Listing reads only ids to filter and count (SQL for the columns, the cached decisions of
moodlab.datasets.snapshots for tiers and moods), then loads the rows of one page: at
100,000 images a page costs one id query and one small row query. The actions are the
services the label review uses (exclusions, rounds of votes, near-duplicates kept), each
image in its own transaction, so a batch goes on past an image it refuses and reports
why; deleting is refused for an image a snapshot holds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, load_only

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.db import Database, lock_for_write
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import (
    Image,
    ImageExclusion,
    ImageVote,
    Job,
    JobStatus,
    Role,
    SnapshotMember,
    User,
)
from moodlab.core.storage import ContentStore
from moodlab.datasets import exclusions
from moodlab.datasets.snapshots import current_decisions
from moodlab.images.duplicates import keep_both, near_duplicates
from moodlab.images.intake import display_path, thumbnail_path
from moodlab.votes import rounds
from moodlab.votes.quorum import TIER_ORDER, Tier

PER_PAGE = 48  # a gallery page: 6 rows of 8 thumbnails at 1280 px
MAX_PER_PAGE = 500
INTAKE_KINDS = ("crawl", "import", "openverse")  # the jobs that bring images in

_PENDING = TIER_ORDER.index(Tier.PENDING)


class Source(enum.StrEnum):
    WEB = "web"  # crawled or sourced by keyword: it has a source URL
    FILES = "files"  # imported or uploaded: it has the name it came under
    UNKNOWN = "unknown"  # neither (images stored before names were kept)


@dataclass(frozen=True)
class PoolFilter:
    """What the gallery shows; every field narrows it, None or empty is "any"."""

    tier: str | None = None  # a Tier value
    mood: str | None = None  # the top mood of the votes now
    source: str | None = None  # a Source value, or a host ("example.org")
    job_id: int | None = None  # the crawl or import that brought it in
    since: date | None = None  # added on or after (UTC)
    until: date | None = None  # added on or before (UTC)
    excluded: bool | None = None  # True: only excluded, False: only not excluded
    search: str = ""  # in its file name, source or page URL, alt text, or a sha256 prefix
    page: int = 1
    per_page: int = PER_PAGE

    def validate(self) -> None:
        if self.tier is not None and self.tier not in {t.value for t in Tier}:
            raise MoodlabError(
                f"unknown tier {self.tier!r}: expected one of {', '.join(t.value for t in Tier)}"
            )
        if self.mood is not None and self.mood not in moods.names():
            raise MoodlabError(
                f"unknown mood {self.mood!r}: expected one of {', '.join(moods.names())}"
            )
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise MoodlabError(
                f"page {self.page} of {self.per_page}: pages count from 1, and a page holds"
                f" 1 to {MAX_PER_PAGE} images"
            )
        if self.since and self.until and self.since > self.until:
            raise MoodlabError(f"the dates are the wrong way round: {self.since} > {self.until}")


@dataclass(frozen=True)
class PoolItem:
    """One image of a gallery page."""

    id: int
    sha256: str
    width: int
    height: int
    name: str  # what to call it: its file name, the URL's last part, or the hash
    source_url: str | None
    original_name: str | None
    alt_text: str | None
    license: str | None
    job_id: int | None
    created_at: datetime
    tier: str
    mood: str | None  # the top mood, for train and test tiers
    excluded: bool
    thumbnail: Path  # the 128 px training copy


@dataclass(frozen=True)
class PoolPage:
    items: list[PoolItem]
    total: int  # images matching the filter
    page: int
    pages: int
    per_page: int


def browse(*, session: Session, actor: Actor, settings: Settings, where: PoolFilter) -> PoolPage:
    """One page of the images matching ``where``, newest first (lead only)."""
    require_role(actor, Role.LEAD, action="browse the image pool")
    where.validate()
    query = select(Image.id).where(*_sql_filters(where)).order_by(Image.id.desc())
    if where.tier is None and where.mood is None:
        # SQL alone decides: a count and one page of ids, not every id (at 100,000
        # images reading them all was most of a rerun).
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        page, pages = _page_of(where, total or 0)
        one_page = query.limit(where.per_page).offset((page - 1) * where.per_page)
        ids = np.array(session.scalars(one_page).all(), dtype=np.int64)
        tiers, labels = _tiers_of(session, settings, ids)
        return PoolPage(
            _items(session, settings, ids, tiers, labels),
            total=total or 0,
            page=page,
            pages=pages,
            per_page=where.per_page,
        )
    # Core, not the ORM, for every matching id: the ORM's row handling cost more.
    ids = np.array(session.connection().execute(query).scalars().all(), dtype=np.int64)
    tiers, labels = _tiers_of(session, settings, ids)
    keep = np.ones(len(ids), dtype=bool)
    if where.tier is not None:
        keep &= tiers == TIER_ORDER.index(Tier(where.tier))
    if where.mood is not None:
        keep &= labels == moods.names().index(where.mood)
    ids, tiers, labels = ids[keep], tiers[keep], labels[keep]
    page, pages = _page_of(where, len(ids))
    shown = slice((page - 1) * where.per_page, page * where.per_page)
    return PoolPage(
        _items(session, settings, ids[shown], tiers[shown], labels[shown]),
        total=len(ids),
        page=page,
        pages=pages,
        per_page=where.per_page,
    )


def _page_of(where: PoolFilter, total: int) -> tuple[int, int]:
    """The page to show (the last one when ``where.page`` is past it) and how many."""
    pages = max(1, -(-total // where.per_page))
    return min(where.page, pages), pages


def _sql_filters(where: PoolFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.source == Source.WEB:
        found.append(Image.source_url.is_not(None))
    elif where.source == Source.FILES:
        found.append(Image.original_name.is_not(None))
    elif where.source == Source.UNKNOWN:
        found += [Image.source_url.is_(None), Image.original_name.is_(None)]
    elif where.source:
        host = _escape_like(where.source.strip().lower())
        found.append(
            or_(
                Image.source_url.ilike(f"%://{host}/%", escape="\\"),
                Image.source_url.ilike(f"%://{host}:%", escape="\\"),
                Image.source_url.ilike(f"%.{host}/%", escape="\\"),
            )
        )
    if where.job_id is not None:
        found.append(Image.job_id == where.job_id)
    if where.since is not None:
        found.append(Image.created_at >= datetime.combine(where.since, time(), UTC))
    if where.until is not None:
        found.append(
            Image.created_at < datetime.combine(where.until + timedelta(days=1), time(), UTC)
        )
    if where.excluded is not None:
        standing = select(ImageExclusion.image_id).where(ImageExclusion.lifted_at.is_(None))
        found.append(Image.id.in_(standing) if where.excluded else Image.id.not_in(standing))
    if text := where.search.strip():
        pattern = f"%{_escape_like(text)}%"
        found.append(
            or_(
                Image.original_name.ilike(pattern, escape="\\"),
                Image.source_url.ilike(pattern, escape="\\"),
                Image.page_url.ilike(pattern, escape="\\"),
                Image.alt_text.ilike(pattern, escape="\\"),
                Image.sha256.startswith(text.lower()),
            )
        )
    return found


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tiers_of(
    session: Session, settings: Settings, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each id's tier index (pending when it has no answer) and top mood index (or -1)."""
    decided = current_decisions(session, settings)
    tiers = np.full(len(ids), _PENDING, dtype=np.int64)
    labels = np.full(len(ids), -1, dtype=np.int64)
    if len(decided.items) and len(ids):
        at = np.minimum(np.searchsorted(decided.items, ids), len(decided.items) - 1)
        hit = decided.items[at] == ids
        tiers[hit] = decided.tiers[at[hit]]
        labels[hit] = decided.labels[at[hit]]
    return tiers, labels


def _items(
    session: Session,
    settings: Settings,
    ids: np.ndarray,
    tiers: np.ndarray,
    labels: np.ndarray,
) -> list[PoolItem]:
    wanted = ids.tolist()
    rows = {image.id: image for image in session.scalars(select(Image).where(Image.id.in_(wanted)))}
    standing = set(
        session.scalars(
            select(ImageExclusion.image_id).where(
                ImageExclusion.image_id.in_(wanted), ImageExclusion.lifted_at.is_(None)
            )
        )
    )
    store = ContentStore(settings.data_dir)
    names = moods.names()
    items = []
    for image_id, tier, label in zip(wanted, tiers.tolist(), labels.tolist(), strict=True):
        image = rows.get(image_id)
        if image is None:  # deleted since the ids were read
            continue
        items.append(
            PoolItem(
                id=image.id,
                sha256=image.sha256,
                width=image.width,
                height=image.height,
                name=display_name(image),
                source_url=image.source_url,
                original_name=image.original_name,
                alt_text=image.alt_text,
                license=image.license,
                job_id=image.job_id,
                created_at=image.created_at,
                tier=TIER_ORDER[tier].value,
                mood=names[label] if label >= 0 else None,
                excluded=image.id in standing,
                thumbnail=thumbnail_path(store, image.sha256),
            )
        )
    return items


def display_name(image: Image) -> str:
    """A short name for an image: its file name, the last part of its URL, or its hash."""
    for text in (image.original_name, image.source_url):
        if text:
            tail = text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
            if tail:
                return tail[:80]
    return image.sha256[:12]


@dataclass(frozen=True)
class VoteSeen:
    annotator: str | None
    mood: str  # a mood, or "skip"
    at: datetime


@dataclass(frozen=True)
class PoolImage:
    """One image in full: the display copy, its votes now, and where it came from."""

    item: PoolItem
    display: Path
    page_url: str | None
    attribution: str | None
    job_kind: str | None
    votes: list[VoteSeen]
    round: int
    snapshots: list[int]  # the snapshots that hold it
    exclusion_reason: str | None

    def provenance(self) -> dict[str, Any]:
        return {
            "source_url": self.item.source_url,
            "original_name": self.item.original_name,
            "page_url": self.page_url,
            "alt_text": self.item.alt_text,
            "license": self.item.license,
            "attribution": self.attribution,
            "job_id": self.item.job_id,
            "job_kind": self.job_kind,
            "added_at": self.item.created_at.isoformat(timespec="seconds"),
        }


def pool_image(*, session: Session, actor: Actor, settings: Settings, image: int) -> PoolImage:
    """Image ``image`` with its current round's votes by annotator, and its provenance."""
    require_role(actor, Role.LEAD, action="read an image's votes")
    row = session.get(Image, image)
    if row is None:
        raise NotFound(f"no image with id {image}")
    ids = np.array([row.id], dtype=np.int64)
    tiers, labels = _tiers_of(session, settings, ids)
    [item] = _items(session, settings, ids, tiers, labels)
    votes = [
        VoteSeen(name, mood or "skip", at)
        for mood, name, at in session.execute(
            select(ImageVote.mood, User.name, ImageVote.updated_at)
            .outerjoin(User, User.id == ImageVote.annotator_id)
            .where(ImageVote.image_id == row.id)
            .order_by(ImageVote.updated_at)
        ).all()
    ]
    held_by = session.scalars(
        select(SnapshotMember.snapshot_id)
        .where(SnapshotMember.image_id == row.id)
        .order_by(SnapshotMember.snapshot_id)
    )
    standing = exclusions.standing(session, row.id)
    return PoolImage(
        item=item,
        display=display_path(ContentStore(settings.data_dir), row.sha256),
        page_url=row.page_url,
        attribution=row.attribution,
        job_kind=session.scalar(select(Job.kind).where(Job.id == row.job_id))
        if row.job_id
        else None,
        votes=votes,
        round=rounds.current_round(session, row.id),
        snapshots=list(held_by),
        exclusion_reason=standing.reason if standing else None,
    )


# The lead's actions on many images -------------------------------------------------


@dataclass
class Bulk:
    """What a bulk action did: the images it changed and each one it refused, with why."""

    action: str
    done: list[int] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # {"image": id, "reason": str}

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "done": self.done, "refused": self.refused}

    def summary(self) -> str:
        text = f"{self.action}: {len(self.done)} done"
        if self.refused:
            text += f", {len(self.refused)} refused ({self.refused[0]['reason']}"
            text += ", ...)" if len(self.refused) > 1 else ")"
        return text


def _each(
    database: Database,
    action: str,
    images: Iterable[int],
    work: Callable[[Session, int], Any],
) -> Bulk:
    """``work`` on each image in a transaction of its own: a refusal keeps nothing of it."""
    done = Bulk(action)
    for image_id in dict.fromkeys(images):
        try:
            with database.session() as session:
                work(session, image_id)
        except MoodlabError as exc:
            done.refused.append({"image": image_id, "reason": str(exc)})
        else:
            done.done.append(image_id)
    return done


def exclude_images(*, database: Database, actor: Actor, images: Iterable[int], reason: str) -> Bulk:
    """Leave each image out of new snapshots (moodlab.datasets.exclusions)."""
    require_role(actor, Role.LEAD, action="exclude images from datasets")
    return _each(
        database,
        "exclude",
        images,
        lambda s, i: exclusions.exclude(session=s, actor=actor, image=i, reason=reason),
    )


def include_images(*, database: Database, actor: Actor, images: Iterable[int]) -> Bulk:
    """Lift each image's exclusion."""
    require_role(actor, Role.LEAD, action="exclude images from datasets")
    return _each(
        database,
        "include",
        images,
        lambda s, i: exclusions.include(session=s, actor=actor, image=i),
    )


def send_back_images(
    *, database: Database, actor: Actor, images: Iterable[int], reason: str
) -> Bulk:
    """Send each image back for a new round of votes (moodlab.votes.rounds)."""
    require_role(actor, Role.LEAD, action="send images back for new votes")
    return _each(
        database,
        "send back",
        images,
        lambda s, i: rounds.send_back(session=s, actor=actor, image=i, reason=reason),
    )


def delete_images(
    *, database: Database, actor: Actor, settings: Settings, images: Iterable[int]
) -> Bulk:
    """Delete each image no snapshot holds: its row, votes, exclusions and rounds (the
    database's cascades), then its files. A snapshot's images are kept: a frozen set
    must stay whole."""
    require_role(actor, Role.LEAD, action="delete images")
    store = ContentStore(settings.data_dir)
    files: dict[int, list[Path]] = {}

    def delete(session: Session, image_id: int) -> None:
        lock_for_write(session)
        image = session.get(Image, image_id, with_for_update=True)
        if image is None:
            raise NotFound(f"no image with id {image_id}")
        held = session.scalar(
            select(SnapshotMember.snapshot_id)
            .where(SnapshotMember.image_id == image_id)
            .order_by(SnapshotMember.snapshot_id)
            .limit(1)
        )
        if held is not None:
            raise MoodlabError(
                f"image {image_id} is in snapshot #{held}: a snapshot's images are kept"
                " (exclude it from new snapshots instead)"
            )
        files[image_id] = [
            store.path_for(image.sha256, image.original_suffix),
            display_path(store, image.sha256),
            thumbnail_path(store, image.sha256),
        ]
        session.delete(image)

    done = _each(database, "delete", images, delete)
    # Files go once their row is gone for good; a file left by a crash here is an orphan
    # a worker's start removes (moodlab.images.orphans).
    for image_id in done.done:
        for path in files.get(image_id, []):
            path.unlink(missing_ok=True)
    return done


@dataclass(frozen=True)
class HeldImage:
    """A near-duplicate an intake job held back, which the lead may keep after all."""

    job_id: int
    sha256: str
    source: str
    reason: str
    duplicate_of: int
    preview: Path


def held_images(
    *, session: Session, actor: Actor, settings: Settings, job_id: int | None = None
) -> list[HeldImage]:
    """Every near-duplicate still held (not kept), newest job first; only job ``job_id``'s
    when given."""
    require_role(actor, Role.LEAD, action="browse the image pool")
    query = (
        select(Job)
        # The result names what a job held; its log can be long and is not read here.
        .options(load_only(Job.id, Job.kind, Job.result))
        .where(
            Job.kind.in_(INTAKE_KINDS),
            Job.status.in_([s for s in JobStatus if s.finished]),
        )
        .order_by(Job.id.desc())
    )
    if job_id is not None:
        query = query.where(Job.id == job_id)
    jobs = session.scalars(query)
    return [
        HeldImage(
            job.id, found.sha256, found.source, found.reason, found.duplicate_of, found.preview
        )
        for job in jobs
        for found in near_duplicates(settings=settings, job=job)
        if found.kept_as is None and found.preview.is_file()
    ]


def keep_held(
    *,
    database: Database,
    actor: Actor,
    settings: Settings,
    held: Iterable[tuple[int, str]],
) -> Bulk:
    """Store each held near-duplicate (job id, sha256) after all."""
    require_role(actor, Role.LEAD, action="keep near-duplicates")
    kept = Bulk("keep")
    for job_id, sha256 in dict.fromkeys(held):
        try:
            with database.session() as session:
                image_id = keep_both(
                    session=session,
                    actor=actor,
                    settings=settings,
                    database=database,
                    job_id=job_id,
                    sha256=sha256,
                )
        except MoodlabError as exc:
            kept.refused.append({"image": f"{job_id}:{sha256[:12]}", "reason": str(exc)})
        else:
            kept.done.append(image_id)
    return kept

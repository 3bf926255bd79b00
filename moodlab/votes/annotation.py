"""Votes: the annotator's queue, recording, undo, progress, and CSV import/export.

Votes are blind: nothing here returns other annotators' votes to an annotator.
Each (image, annotator) pair has at most one row, written with an upsert, so
annotators voting at once never lose or duplicate a vote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role, user_id
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Image, ImageVote, Role, TrackVote, User
from moodlab.core.timeutil import utcnow

SKIP = "skip"  # what the CSV and the UI call a skip; stored as NULL
ANNOTATING = (Role.ANNOTATOR, Role.LEAD)


class FrozenImage(MoodlabError):
    """The image is part of a dataset snapshot; its votes no longer change."""


@dataclass(frozen=True)
class Previous:
    """What an answer replaced, for undo: ``existed`` False means there was none."""

    image_id: int
    existed: bool
    mood: str | None


@dataclass(frozen=True)
class Progress:
    today: int
    total: int
    left: int


def upsert_vote(
    session: Session,
    table: type[ImageVote] | type[TrackVote],
    keys: dict[str, int],
    mood: str | None,
) -> tuple[str | None] | None:
    """Insert or update the one vote row of ``keys`` in ``table``; the old (mood,) row or None.

    One statement (INSERT ... ON CONFLICT DO UPDATE), so two writers never make two rows.
    """
    match = [getattr(table, column) == value for column, value in keys.items()]
    previous = session.execute(select(table.mood).where(*match)).first()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    statement = insert(table).values(**keys, mood=mood, created_at=now, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys), set_={"mood": mood, "updated_at": now}
        )
    )
    return previous


def next_image(*, session: Session, actor: Actor, settings: Settings) -> Image | None:
    """The next image for ``actor``: not yet answered by them, closest to complete, oldest."""
    images = next_images(session=session, actor=actor, settings=settings, limit=1)
    return images[0] if images else None


def next_images(
    *, session: Session, actor: Actor, settings: Settings, limit: int, first: int | None = None
) -> list[Image]:
    """The next ``limit`` images of ``actor``'s queue; ``first`` (an image just undone) leads."""
    require_role(actor, *ANNOTATING, action="annotate images")
    mine = exists().where(ImageVote.image_id == Image.id, ImageVote.annotator_id == actor.id)
    query = (
        select(Image)
        .where(
            Image.response_count < settings.annotators_per_item, Image.frozen_at.is_(None), ~mine
        )
        .order_by(Image.response_count.desc(), Image.id)
        .limit(limit)
    )
    images = list(session.scalars(query))
    if first is not None:
        lead = session.scalar(
            select(Image).where(Image.id == first, ~mine, Image.frozen_at.is_(None))
        )
        if lead is not None:
            images = [lead, *[i for i in images if i.id != first]][:limit]
    return images


@dataclass
class Outbox:
    """What a browser has sent and moodlab has applied: votes and undos in order.

    The annotate page's browser side sends every answer it has not yet seen
    acknowledged, each with a sequence number; entries at or below ``acked`` are
    old news. Re-sending is therefore harmless and nothing is lost if a send is.
    """

    acked: int = 0
    undo_stack: list[Previous] = field(default_factory=list)
    undone: int | None = None  # an image just put back, to show first
    error: str | None = None


def apply_outbox(
    *,
    session_factory: Callable[[], AbstractContextManager[Session]],
    actor: Actor,
    outbox: Outbox,
    entries: list[dict[str, Any]],
) -> Outbox:
    """Apply entries newer than ``outbox.acked``, in order.

    An entry is {"seq", "image_id", "mood"} (mood None or "skip" skips) or {"seq", "undo"}.
    """
    outbox.error = None
    for entry in sorted(entries or [], key=lambda e: int(e.get("seq", 0))):
        seq = int(entry.get("seq", 0))
        if seq <= outbox.acked:
            continue
        try:
            with session_factory() as session:
                if entry.get("undo"):
                    if outbox.undo_stack:
                        previous = outbox.undo_stack[-1]
                        undo(session=session, actor=actor, previous=previous)
                        outbox.undo_stack.pop()
                        outbox.undone = previous.image_id
                else:
                    previous = answer(
                        session=session, actor=actor, image_id=int(entry["image_id"]),
                        mood=entry.get("mood"),
                    )  # fmt: skip
                    outbox.undo_stack.append(previous)
                    outbox.undone = None
        except MoodlabError as exc:
            outbox.error = str(exc)
        outbox.acked = seq
    return outbox


def answer(*, session: Session, actor: Actor, image_id: int, mood: str | None) -> Previous:
    """Record ``actor``'s mood for an image (None or "skip" skips); returns what it replaced."""
    require_role(actor, *ANNOTATING, action="annotate images")
    mood = _mood_or_skip(mood)
    # Lock the image row (PostgreSQL; SQLite serialises writers anyway) so that two
    # answers on one image never miscount its responses.
    image = session.get(Image, image_id, with_for_update=True)
    if image is None:
        raise NotFound(f"no image with id {image_id}")
    if image.frozen_at is not None:
        raise FrozenImage(
            f"image {image_id} is frozen into a dataset snapshot since"
            f" {image.frozen_at:%Y-%m-%d}: its votes are read-only"
        )
    annotator_id = user_id(actor, action="annotate images")
    previous = upsert_vote(
        session, ImageVote, {"image_id": image_id, "annotator_id": annotator_id}, mood
    )
    _recount(session, image_id)
    return Previous(image_id, previous is not None, previous[0] if previous else None)


def undo(*, session: Session, actor: Actor, previous: Previous) -> None:
    """Put ``actor``'s answer on an image back to what it was before."""
    if previous.existed:
        answer(session=session, actor=actor, image_id=previous.image_id, mood=previous.mood)
        return
    require_role(actor, *ANNOTATING, action="annotate images")
    image = session.get(Image, previous.image_id, with_for_update=True)
    if image is not None and image.frozen_at is not None:
        raise FrozenImage(f"image {previous.image_id} is frozen: its votes are read-only")
    session.execute(
        delete(ImageVote).where(
            ImageVote.image_id == previous.image_id, ImageVote.annotator_id == actor.id
        )
    )
    _recount(session, previous.image_id)


def _recount(session: Session, image_id: int) -> None:
    """Set the image's response count from its rows (a handful, by index): never drifts."""
    answered = (
        select(func.count())
        .select_from(ImageVote)
        .where(ImageVote.image_id == image_id)
        .scalar_subquery()
    )
    session.execute(update(Image).where(Image.id == image_id).values(response_count=answered))


def progress(
    *, session: Session, actor: Actor, settings: Settings, now: datetime | None = None
) -> Progress:
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    mine = select(func.count()).select_from(ImageVote).where(ImageVote.annotator_id == actor.id)
    voted_on = exists().where(ImageVote.image_id == Image.id, ImageVote.annotator_id == actor.id)
    left = (
        select(func.count())
        .select_from(Image)
        .where(
            Image.response_count < settings.annotators_per_item,
            Image.frozen_at.is_(None),
            ~voted_on,
        )
    )
    return Progress(
        today=session.scalar(mine.where(ImageVote.updated_at >= midnight)) or 0,
        total=session.scalar(mine) or 0,
        left=session.scalar(left) or 0,
    )


def _mood_or_skip(mood: str | None) -> str | None:
    if mood is None or mood.strip().lower() == SKIP:
        return None
    return moods.get(mood).name


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ("image", "annotator", "mood")


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"imported": self.imported, "unchanged": self.unchanged, "rejected": self.rejected}


def import_votes(*, session: Session, actor: Actor, path: Path) -> ImportReport:
    """Votes from a CSV (image = sha256 or source URL, annotator name, mood or "skip").

    Unknown images, annotators and moods are rejected with their line numbers; the
    rest are written. Importing the same file again changes nothing.
    """
    require_role(actor, Role.LEAD, action="import votes")
    report = ImportReport()
    rows = _read_csv(path)
    users = {u.name: u for u in session.scalars(select(User))}
    for line, row in rows:
        try:
            image_id = _image_id(session, row["image"])
            user = users.get(row["annotator"].strip())
            if user is None:
                raise MoodlabError(f"unknown annotator {row['annotator']!r}")
            mood = _mood_or_skip(row["mood"])
        except MoodlabError as exc:
            report.rejected.append({"line": line, "reason": str(exc)})
            continue
        current = session.execute(
            select(ImageVote.mood).where(
                ImageVote.image_id == image_id, ImageVote.annotator_id == user.id
            )
        ).first()
        if current is not None and current[0] == mood:
            report.unchanged += 1
            continue
        try:
            answer(session=session, actor=Actor.of(user), image_id=image_id, mood=mood)
        except MoodlabError as exc:
            report.rejected.append({"line": line, "reason": str(exc)})
            continue
        report.imported += 1
    return report


def _read_csv(path: Path) -> list[tuple[int, dict]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MoodlabError(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = set(CSV_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise MoodlabError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; expected image,annotator,mood"
        )
    # Line numbers as a spreadsheet shows them: the header is line 1.
    return [(reader.line_num, {k: (v or "") for k, v in row.items()}) for row in reader]


def _image_id(session: Session, ref: str) -> int:
    ref = ref.strip()
    column = (
        Image.sha256
        if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref.lower())
        else Image.source_url
    )
    value = ref.lower() if column is Image.sha256 else ref
    found = session.scalar(select(Image.id).where(column == value))
    if found is None:
        raise MoodlabError(f"unknown image {ref!r}")
    return found


# Spreadsheet programs run cells that start with these as formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Neutralise CSV injection: a leading formula character gets a quote in front."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def export_votes(*, session: Session, actor: Actor, path: Path) -> int:
    """Every vote and skip as CSV (image sha256, annotator, mood); the number of rows."""
    require_role(actor, Role.LEAD, action="export votes")
    from moodlab.core.storage import atomic_write

    rows = session.execute(
        select(Image.sha256, User.name, ImageVote.mood)
        .join(Image, Image.id == ImageVote.image_id)
        .join(User, User.id == ImageVote.annotator_id)
        .order_by(Image.id, User.name)
    ).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for sha, name, mood in rows:
        writer.writerow([sha, safe_cell(name), mood or SKIP])
    with atomic_write(Path(path)) as handle:
        handle.write(buffer.getvalue().encode("utf-8"))
    return len(rows)

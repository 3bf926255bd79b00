"""Votes: the annotator's queue, recording, undo, progress; CSV in moodlab.votes.csv_votes.

Votes are blind: nothing here returns other annotators' votes to an annotator.
Each (image, annotator) pair has at most one row, written with an upsert, so
annotators voting at once never lose or duplicate a vote. An answer is refused
with a message when the image already has its quorum of answers from others, is
frozen into a snapshot, or the annotator's account is deactivated; the count is
checked under a write lock, so two annotators given the last open slot of an
image at once cannot push it past the quorum (docs/architecture.md, "Annotation").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role, user_id
from moodlab.core.config import Settings
from moodlab.core.db import lock_for_write, retry_locked
from moodlab.core.errors import MoodlabError, NotFound, PermissionDenied
from moodlab.core.models import (
    AnswerChange,
    Image,
    ImageVote,
    QueueScore,
    Role,
    TrackVote,
    TrainedModel,
    User,
)
from moodlab.core.timeutil import utcnow
from moodlab.votes import guidelines, order
from moodlab.votes.quorum import settled
from moodlab.votes.rounds import in_snapshot_this_round

SKIP = "skip"  # what the CSV and the UI call a skip; stored as NULL
ANNOTATING = (Role.ANNOTATOR, Role.LEAD)


class FrozenImage(MoodlabError):
    """The image is part of a dataset snapshot; its votes no longer change."""


class QuorumReached(MoodlabError):
    """The image already has its quorum of answers from other annotators."""


class InactiveAnnotator(PermissionDenied):
    """The annotator's account is deactivated (or gone): its answers are not stored."""


class AlreadyAnswered(MoodlabError):
    """A first answer on an image the annotator answered meanwhile (another tab): ask first."""

    def __init__(self, image_id: int, mood_now: str | None, mood_new: str | None) -> None:
        self.image_id, self.mood_now, self.mood_new = image_id, mood_now, mood_new
        super().__init__(
            f"You already answered image {image_id} as {answer_name(mood_now)} (in another"
            f" tab or window): replace it with {answer_name(mood_new)}?"
        )


class NothingToUndo(MoodlabError):
    """No answer of the annotator's is left to undo."""


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
    extra: dict[str, Any] | None = None,
) -> tuple[str | None] | None:
    """Insert or update the one vote row of ``keys`` in ``table``; the old (mood,) row or None.

    One statement (INSERT ... ON CONFLICT DO UPDATE), so two writers never make two rows.
    ``extra`` columns are written on insert and update alike.
    """
    match = [getattr(table, column) == value for column, value in keys.items()]
    previous = session.execute(select(table.mood).where(*match)).first()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    values = {"mood": mood, "updated_at": now, **(extra or {})}
    statement = insert(table).values(**keys, **values, created_at=now)
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=values))
    return previous


def waiting(settings: Settings) -> Any:
    """SQL: the image still waits for answers: not frozen, answers missing, and the answers
    to come can still change its tier (moodlab.votes.quorum.settled: early stop)."""
    left = settings.annotators_per_item - Image.response_count
    return (
        (Image.response_count < settings.annotators_per_item)
        & Image.frozen_at.is_(None)
        & ~settled(Image.top_votes, Image.second_votes, left, settings)
    )


def next_image(*, session: Session, actor: Actor, settings: Settings) -> Image | None:
    """The next image for ``actor``: not yet answered by them, closest to complete, then in
    the order the lead chose (``next_images``)."""
    images = next_images(session=session, actor=actor, settings=settings, limit=1)
    return images[0] if images else None


def next_images(
    *, session: Session, actor: Actor, settings: Settings, limit: int, first: int | None = None
) -> list[Image]:
    """The next ``limit`` images of ``actor``'s queue; ``first`` (an image just undone) leads.

    Images closest to a decision first, then in the order the lead chose: the annotator's
    own, or the model's (moodlab.votes.order). An image whose answers so far already
    decide its tier has left every queue (``waiting``).
    """
    require_role(actor, *ANNOTATING, action="annotate images")
    mine = exists().where(ImageVote.image_id == Image.id, ImageVote.annotator_id == actor.id)
    choice = order.current_order(session)
    query = select(Image.id).where(waiting(settings), ~mine)
    if choice.kind == order.MODEL:
        active = select(TrainedModel.id).where(TrainedModel.active).limit(1).scalar_subquery()
        query = query.outerjoin(
            QueueScore, (QueueScore.image_id == Image.id) & (QueueScore.model_id == active)
        )
        ranked = query.order_by(
            Image.response_count.desc(), *order.queue_order_by(session, actor, choice)
        )
        ids = list(session.scalars(ranked.limit(limit)))
    else:
        # Started images (a handful) sorted whole; unanswered ones block by block, so a
        # pool of 100,000 fresh images is never sorted at once (moodlab.votes.order).
        started = query.where(Image.response_count > 0).order_by(
            Image.response_count.desc(), *order.queue_order_by(session, actor, choice)
        )
        ids = list(session.scalars(started.limit(limit)))
        if len(ids) < limit:
            fresh = select(Image.id).where(Image.response_count == 0, waiting(settings))
            ids += order.own_order_ids(session, actor, fresh, limit - len(ids))
    rows = {image.id: image for image in session.scalars(select(Image).where(Image.id.in_(ids)))}
    images = [rows[i] for i in ids if i in rows]
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
    Undo reads the database's record of answers (``undo``), not this tab's memory,
    so it survives a reload.
    """

    acked: int = 0
    undone: int | None = None  # an image just put back, to show first
    error: str | None = None
    # Answers on images this annotator answered meanwhile in another tab: the page asks.
    conflicts: list[AlreadyAnswered] = field(default_factory=list)


def apply_outbox(
    *,
    session_factory: Callable[[], AbstractContextManager[Session]],
    actor: Actor,
    outbox: Outbox,
    entries: Any,
    settings: Settings | None = None,
) -> Outbox:
    """Apply entries newer than ``outbox.acked``, in order.

    An entry is {"seq", "image_id", "mood"} (mood None or "skip" skips) or {"seq", "undo"}
    with the "image_id" undone when the browser knows it (``undo``). An answer on an image
    the annotator answered meanwhile is not written but kept in ``outbox.conflicts``.
    A malformed entry (what a crafted request could send) is refused with a message in
    ``outbox.error``, and acknowledged when its seq can be read; it never raises.
    Each entry is its own transaction, retried briefly while the database is locked.
    """
    outbox.error = None
    parsed: list[tuple[int, dict[str, Any]]] = []
    for entry in entries if isinstance(entries, list) else [entries] if entries else []:
        try:
            parsed.append(_check_entry(entry))
        except MoodlabError as exc:
            outbox.error = str(exc)
    for seq, entry in sorted(parsed, key=lambda pair: pair[0]):
        if seq <= outbox.acked:
            continue
        what = "the undo" if entry.get("undo") else f"the answer on image {entry['image_id']}"

        def write(entry: dict[str, Any] = entry) -> None:
            _apply_entry(session_factory, actor, outbox, entry, settings)

        try:
            retry_locked(write, what=what)
        except MoodlabError as exc:
            outbox.error = str(exc)
        outbox.acked = seq
    return outbox


def _check_entry(entry: Any) -> tuple[int, dict[str, Any]]:
    """(seq, entry) for a well-formed outbox entry; MoodlabError saying what is wrong."""

    def bad(reason: str) -> MoodlabError:
        return MoodlabError(f"an answer sent by the browser was not stored: {reason}")

    if not isinstance(entry, dict):
        raise bad(f"expected an object, got {type(entry).__name__}")
    seq = entry.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise bad(f"its sequence number {seq!r} is not a positive whole number")
    image_id, mood = entry.get("image_id"), entry.get("mood")
    if entry.get("undo") is True:
        # The browser names the image it undoes when it knows it (after a reload it does not).
        known = isinstance(image_id, int) and not isinstance(image_id, bool) and image_id > 0
        return seq, {"undo": True, "image_id": image_id if known else None}
    if isinstance(image_id, bool) or not isinstance(image_id, int) or image_id < 1:
        raise bad(f"entry {seq}: image id {image_id!r} is not a positive whole number")
    if mood is not None and not isinstance(mood, str):
        raise bad(f"entry {seq}: mood {mood!r} is not a mood name")
    return seq, {"image_id": image_id, "mood": mood}


def _apply_entry(
    session_factory: Callable[[], AbstractContextManager[Session]],
    actor: Actor,
    outbox: Outbox,
    entry: dict[str, Any],
    settings: Settings | None,
) -> None:
    with session_factory() as session:
        if entry.get("undo"):
            outbox.undone = undo(
                session=session, actor=actor, image_id=entry["image_id"], settings=settings
            )
            return
        try:
            answer(
                session=session,
                actor=actor,
                image_id=entry["image_id"],
                mood=entry["mood"],
                settings=settings,
                replace=False,
            )
        except AlreadyAnswered as conflict:
            outbox.conflicts = [c for c in outbox.conflicts if c.image_id != conflict.image_id] + [
                conflict
            ]
            return
        outbox.undone = None


def answer(
    *,
    session: Session,
    actor: Actor,
    image_id: int,
    mood: str | None,
    settings: Settings | None = None,
    replace: bool = True,
) -> Previous:
    """Record ``actor``'s mood for an image (None or "skip" skips); returns what it replaced.

    Refused (and nothing written) when the account is deactivated, the image is frozen,
    or the image already has ``annotators_per_item`` answers from others; with
    ``replace`` False, also when the actor has answered it already (AlreadyAnswered:
    a second tab's answer asks before it replaces the first). The answer records the
    guidelines version it was given under, and every new or changed answer is a row
    of ``answer_changes``.
    """
    require_role(actor, *ANNOTATING, action="annotate images")
    quorum = _quorum(settings)
    mood = _mood_or_skip(mood)
    annotator_id, previous = _own_answer(session, actor, image_id)
    if previous is None:
        _check_quorum(session, image_id, quorum)
    elif not replace:
        raise AlreadyAnswered(image_id, previous[0], mood)
    if previous is not None and previous[0] == mood:
        return Previous(image_id, True, mood)  # the same answer again: nothing changes
    version = guidelines.current_version(session)
    keys = {"image_id": image_id, "annotator_id": annotator_id}
    upsert_vote(session, ImageVote, keys, mood, {"guidelines_version": version})
    _recount(session, image_id)
    before = Previous(image_id, previous is not None, previous[0] if previous else None)
    _record(session, annotator_id, "change" if before.existed else "answer", before, mood, version)
    return before


def _own_answer(session: Session, actor: Actor, image_id: int) -> tuple[int, Row[Any] | None]:
    """The annotator's id and their answer on the image (a row of its mood, or None), the
    image locked for the change; NotFound for no such image, refused when it is frozen."""
    annotator_id = user_id(actor, action="annotate images")
    image = _lock_image(session, image_id)
    if image is None:
        raise NotFound(f"no image with id {image_id}")
    check_annotator(session, actor)
    _check_not_frozen(session, image)
    previous = session.execute(
        select(ImageVote.mood).where(
            ImageVote.image_id == image_id, ImageVote.annotator_id == annotator_id
        )
    ).first()
    return annotator_id, previous


def withdraw(*, session: Session, actor: Actor, image_id: int) -> Previous:
    """Take back ``actor``'s answer on an image: it is no answer again, and back in the queue.

    Refused when the image is frozen; recorded in ``answer_changes`` (undo gives it back).
    """
    require_role(actor, *ANNOTATING, action="annotate images")
    annotator_id, previous = _own_answer(session, actor, image_id)
    if previous is None:
        raise NotFound(f"you have no answer on image {image_id} to withdraw")
    _delete_answer(session, image_id, annotator_id)
    before = Previous(image_id, True, previous[0])
    _record(session, annotator_id, "withdraw", before, None, None, answered=False)
    return before


def _record(
    session: Session,
    annotator_id: int,
    action: str,
    before: Previous,
    mood: str | None,
    version: int | None,
    *,
    answered: bool = True,
) -> AnswerChange:
    change = AnswerChange(
        image_id=before.image_id,
        annotator_id=annotator_id,
        action=action,
        before_answered=before.existed,
        before_mood=before.mood,
        after_answered=answered,
        after_mood=mood if answered else None,
        guidelines_version=version,
        at=utcnow(),
    )
    session.add(change)
    session.flush()
    return change


def _lock_image(session: Session, image_id: int) -> Image | None:
    """The image, read under the write lock: SQLite's BEGIN IMMEDIATE, PostgreSQL's FOR UPDATE.

    Answers on one image are serialised, so the count an answer checks is still the
    count when it inserts.
    """
    lock_for_write(session)
    return session.get(Image, image_id, with_for_update=True, populate_existing=True)


def check_annotator(session: Session, actor: Actor) -> None:
    """Refuse an actor whose account is deactivated, deleted, or no longer annotates."""
    user = session.get(User, actor.id, populate_existing=True) if actor.id is not None else None
    if user is None or not user.active:
        raise InactiveAnnotator(
            f"the account {actor.name!r} is deactivated: its answers are no longer stored"
        )
    if Role(user.role) not in ANNOTATING:
        raise PermissionDenied(f"{actor.name} ({user.role}) may not annotate images")


def _check_not_frozen(session: Session, image: Image) -> None:
    # A snapshot frozen before the image was last sent back no longer holds its votes.
    in_snapshot = image.frozen_at is not None or session.scalar(
        select(in_snapshot_this_round(image.id))
    )
    if in_snapshot:
        since = f" since {image.frozen_at:%Y-%m-%d}" if image.frozen_at else ""
        raise FrozenImage(
            f"image {image.id} is frozen into a dataset snapshot{since}: its votes are read-only"
        )


def undo(
    *, session: Session, actor: Actor, image_id: int | None = None, settings: Settings | None = None
) -> int:
    """Undo ``actor``'s newest answer step (on ``image_id`` when given); the image's id.

    Reads ``answer_changes``, so it works after a reload or the next day. The answer goes
    back to what it was before that step (no answer, or the earlier mood), recorded as an
    "undo" step; the quorum and frozen rules hold as for any answer. An answer changed
    since by other means (the lead sent the image back) is refused with a message.
    """
    require_role(actor, *ANNOTATING, action="annotate images")
    annotator_id = user_id(actor, action="annotate images")
    query = select(AnswerChange).where(
        AnswerChange.annotator_id == annotator_id,
        AnswerChange.action != "undo",
        AnswerChange.undone_at.is_(None),
    )
    if image_id is not None:
        query = query.where(AnswerChange.image_id == image_id)
    step = session.scalar(query.order_by(AnswerChange.id.desc()).limit(1))
    if step is None:
        where = f" on image {image_id}" if image_id is not None else ""
        raise NothingToUndo(f"you have no answer{where} left to undo")
    image = _lock_image(session, step.image_id)
    if image is None:
        raise NotFound(f"no image with id {step.image_id}")
    check_annotator(session, actor)
    _check_not_frozen(session, image)
    now = session.execute(
        select(ImageVote.mood).where(
            ImageVote.image_id == step.image_id, ImageVote.annotator_id == annotator_id
        )
    ).first()
    if (now is not None) != step.after_answered or (now is not None and now[0] != step.after_mood):
        raise MoodlabError(
            f"your answer on image {step.image_id} changed since ({answer_name(step.after_mood)}"
            f" {step.at:%Y-%m-%d %H:%M} UTC): it cannot be undone; change it on My answers"
        )
    current = Previous(step.image_id, now is not None, now[0] if now else None)
    if step.before_answered:
        version = guidelines.current_version(session)
        if now is None:
            _check_quorum(session, step.image_id, _quorum(settings))
        keys = {"image_id": step.image_id, "annotator_id": annotator_id}
        upsert_vote(session, ImageVote, keys, step.before_mood, {"guidelines_version": version})
        _recount(session, step.image_id)
        _record(session, annotator_id, "undo", current, step.before_mood, version)
    else:
        _delete_answer(session, step.image_id, annotator_id)
        _record(session, annotator_id, "undo", current, None, None, answered=False)
    step.undone_at = utcnow()
    return step.image_id


def can_undo(*, session: Session, actor: Actor) -> bool:
    """Whether ``actor`` has an answer step left to undo."""
    if actor.id is None:
        return False
    query = select(AnswerChange.id).where(
        AnswerChange.annotator_id == actor.id,
        AnswerChange.action != "undo",
        AnswerChange.undone_at.is_(None),
    )
    return session.scalar(query.limit(1)) is not None


def _delete_answer(session: Session, image_id: int, annotator_id: int) -> None:
    session.execute(
        delete(ImageVote).where(
            ImageVote.image_id == image_id, ImageVote.annotator_id == annotator_id
        )
    )
    _recount(session, image_id)


def _quorum(settings: Settings | None) -> int:
    return (settings or Settings.from_env()).annotators_per_item


def _check_quorum(session: Session, image_id: int, quorum: int) -> None:
    others = session.scalar(
        select(func.count()).select_from(ImageVote).where(ImageVote.image_id == image_id)
    )
    if (others or 0) >= quorum:
        raise QuorumReached(
            f"image {image_id} already has its {quorum} answers from other annotators:"
            " your answer was not stored"
        )


def _recount(session: Session, image_id: int) -> None:
    """Set the image's answer count and top two mood counts from its rows (a handful, by
    index): never drifts."""
    answers = session.execute(select(ImageVote.mood).where(ImageVote.image_id == image_id))
    moods_given = [mood for (mood,) in answers]
    top, second = top_two(moods_given)
    session.execute(
        update(Image)
        .where(Image.id == image_id)
        .values(response_count=len(moods_given), top_votes=top, second_votes=second)
    )


def top_two(answers: Iterable[str | None]) -> tuple[int, int]:
    """The votes of the most and the second most voted mood among ``answers`` (None skips)."""
    ordered = [n for _, n in Counter(a for a in answers if a is not None).most_common(2)]
    return (ordered + [0, 0])[0], (ordered + [0, 0])[1]


def progress(
    *, session: Session, actor: Actor, settings: Settings, now: datetime | None = None
) -> Progress:
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    mine = select(func.count()).select_from(ImageVote).where(ImageVote.annotator_id == actor.id)
    return Progress(
        today=session.scalar(mine.where(ImageVote.updated_at >= midnight)) or 0,
        total=session.scalar(mine) or 0,
        left=images_left(session=session, annotator_id=actor.id, settings=settings),
    )


def images_left(*, session: Session, annotator_id: int | None, settings: Settings) -> int:
    """Images still waiting for answers that this annotator has not answered: what their
    queue holds."""
    voted_on = exists().where(
        ImageVote.image_id == Image.id, ImageVote.annotator_id == annotator_id
    )
    left = select(func.count()).select_from(Image).where(waiting(settings), ~voted_on)
    return session.scalar(left) or 0


def answer_name(mood: str | None) -> str:
    """An answer as a person reads it: the mood, or "a skip"."""
    return mood if mood is not None else "a skip"


def _mood_or_skip(mood: str | None) -> str | None:
    if mood is None or mood.strip().lower() == SKIP:
        return None
    return moods.get(mood).name

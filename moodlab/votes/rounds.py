"""Rounds of votes: the lead sends an image back, its votes are archived, it is voted again.

An image's votes are its *current round*: ``image_votes`` holds only those, so the
queue, the quorum, the tiers, agreement and every export count only them. Sending an
image back (``send_back``, lead only) closes the round: a ``vote_rounds`` row (who,
when, why, the round's tie-break) and its votes copied as they were into
``archived_votes``, which nothing counts and nothing deletes; then the votes and the
tie-break go, the answer count falls to 0 and the image is thawed, so it re-enters
every annotator's queue. The snapshots frozen before keep their members (they store
label and votes). Removing votes changes the votes version (moodlab.votes.arrays), so
cached agreement and dataset pages recompute (docs/architecture.md, "Label review").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role
from moodlab.core.db import lock_for_write
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import (
    ArchivedVote,
    Image,
    ImageVote,
    Role,
    Snapshot,
    SnapshotMember,
    TieBreak,
    User,
    VoteRound,
)
from moodlab.core.timeutil import utcnow

SHA256 = re.compile(r"[0-9a-f]{64}")
LEFT_OUT = "left out"  # a tie-break that left the image out, as vote_rounds.tie_break says it


def find_image(session: Session, image: int | str, *, lock: bool = False) -> Image:
    """The image named by its id or its sha256 (``lock``: under the write lock)."""
    text = str(image).strip().lower()
    if lock:
        lock_for_write(session)
    if text.isdigit():
        query = select(Image).where(Image.id == int(text))
        missing = f"no image with id {text}"
    elif SHA256.fullmatch(text):
        query = select(Image).where(Image.sha256 == text)
        missing = f"no image with sha256 {text}"
    else:
        raise MoodlabError(f"{str(image)!r} is neither an image id nor an image's sha256")
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(missing)
    return found


def horizon(image_id: Any) -> Any:
    """SQL: the newest snapshot when the image was last sent back (0 if never)."""
    return (
        select(func.coalesce(func.max(VoteRound.snapshot_horizon), 0))
        .where(VoteRound.image_id == image_id)
        .correlate_except(VoteRound)  # to the image of the query it sits in, however deep
        .scalar_subquery()
    )


def in_snapshot_this_round(image_id: Any) -> Any:
    """SQL: the image is a member of a snapshot frozen in its current round of votes."""
    return exists().where(
        SnapshotMember.image_id == image_id, SnapshotMember.snapshot_id > horizon(image_id)
    )


def current_round(session: Session, image_id: int) -> int:
    """The round the image's current votes belong to: 1, and one more per send-back."""
    closed = select(func.count()).select_from(VoteRound).where(VoteRound.image_id == image_id)
    return (session.scalar(closed) or 0) + 1


@dataclass(frozen=True)
class SentBack:
    image_id: int
    round: int  # the round closed
    archived: int  # votes and skips archived
    tie_break: str | None  # the closed round's tie-break, if there was one


def send_back(*, session: Session, actor: Actor, image: int | str, reason: str) -> SentBack:
    """Close the image's round of votes: archive them, thaw it, put it back in the queues.

    Lead only; refused, with nothing written, for an image without votes in this round
    or without a reason.
    """
    require_role(actor, Role.LEAD, action="send images back for new votes")
    reason = reason.strip()
    found = find_image(session, image, lock=True)
    if not reason:
        raise MoodlabError(f"say why image {found.id} goes back for new votes (a reason)")
    votes = session.scalars(select(ImageVote).where(ImageVote.image_id == found.id)).all()
    if not votes:
        raise MoodlabError(
            f"image {found.id} has no votes in its current round: it is already in the"
            " annotators' queues"
        )
    broken = session.scalar(select(TieBreak).where(TieBreak.image_id == found.id))
    number = current_round(session, found.id)
    closed = VoteRound(
        image_id=found.id,
        round=number,
        reason=reason,
        sent_by_id=actor.id,
        sent_at=utcnow(),
        snapshot_horizon=session.scalar(select(func.coalesce(func.max(Snapshot.id), 0))) or 0,
        tie_break=None if broken is None else broken.mood or LEFT_OUT,
    )
    session.add(closed)
    session.flush()
    session.execute(
        insert(ArchivedVote),
        [
            {
                "round_id": closed.id,
                "image_id": found.id,
                "annotator_id": vote.annotator_id,
                "mood": vote.mood,
                "created_at": vote.created_at,
                "updated_at": vote.updated_at,
                "guidelines_version": vote.guidelines_version,
            }
            for vote in votes
        ],
    )
    session.execute(delete(ImageVote).where(ImageVote.image_id == found.id))
    session.execute(delete(TieBreak).where(TieBreak.image_id == found.id))
    session.execute(
        update(Image)
        .where(Image.id == found.id)
        .values(response_count=0, top_votes=0, second_votes=0, frozen_at=None)
    )
    return SentBack(found.id, number, len(votes), closed.tie_break)


@dataclass(frozen=True)
class RoundRecord:
    """One round of an image's votes: the current one (``closed_at`` None) or a closed one."""

    round: int
    votes: list[dict[str, Any]]  # {"annotator", "mood" ("skip" for a skip), "at"}
    closed_at: datetime | None = None
    closed_by: str | None = None
    reason: str = ""
    tie_break: str | None = None


def rounds_of(*, session: Session, actor: Actor, image_id: int) -> list[RoundRecord]:
    """Every round of the image's votes, oldest first, the current one last (lead only)."""
    require_role(actor, Role.LEAD, action="read an image's votes")
    names = dict(session.execute(select(User.id, User.name)).all())

    def row(annotator_id: int | None, mood: str | None, at: datetime) -> dict[str, Any]:
        name = names.get(annotator_id, "(deleted account)") if annotator_id else "(deleted)"
        return {"annotator": name, "mood": mood or "skip", "at": at}

    archived: dict[int, list[dict[str, Any]]] = {}
    for vote in session.scalars(
        select(ArchivedVote).where(ArchivedVote.image_id == image_id).order_by(ArchivedVote.id)
    ):
        archived.setdefault(vote.round_id, []).append(
            row(vote.annotator_id, vote.mood, vote.updated_at)
        )
    closed = session.scalars(
        select(VoteRound).where(VoteRound.image_id == image_id).order_by(VoteRound.round)
    ).all()
    records = [
        RoundRecord(
            r.round,
            archived.get(r.id, []),
            r.sent_at,
            names.get(r.sent_by_id or 0),
            r.reason,
            r.tie_break,
        )
        for r in closed
    ]
    current = session.scalars(
        select(ImageVote).where(ImageVote.image_id == image_id).order_by(ImageVote.id)
    )
    votes = [row(v.annotator_id, v.mood, v.updated_at) for v in current]
    return [*records, RoundRecord(len(closed) + 1, votes)]

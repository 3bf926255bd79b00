"""My answers: an annotator's own answers, newest first, to look over and correct.

Only the annotator's own answers: nothing here shows another annotator's vote
(votes are blind). Changing or withdrawing one goes through the answer service
(moodlab.votes.annotation), so the quorum and frozen rules hold and every change
is recorded in ``answer_changes``, never silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from moodlab.core.auth import Actor, require_role, user_id
from moodlab.core.models import AnswerChange, Image, ImageVote
from moodlab.votes.annotation import ANNOTATING, SKIP
from moodlab.votes.rounds import in_snapshot_this_round

PAGE_SIZE = 50  # answers a page of My answers shows at once


@dataclass(frozen=True)
class MyAnswer:
    image_id: int
    sha256: str
    mood: str | None  # None: a skip
    answered_at: datetime  # when it was given or last changed
    guidelines_version: int | None
    frozen: bool  # in a snapshot of its current round: read-only
    changes: int  # how many times it changed after it was first given

    def as_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "sha256": self.sha256,
            "mood": self.mood or SKIP,
            "answered_at": self.answered_at.isoformat(),
            "guidelines_version": self.guidelines_version,
            "frozen": self.frozen,
            "changes": self.changes,
        }


def my_answers(
    *, session: Session, actor: Actor, limit: int = PAGE_SIZE, offset: int = 0
) -> list[MyAnswer]:
    """``actor``'s answers, newest first (by when each was given or last changed)."""
    require_role(actor, *ANNOTATING, action="look at their answers")
    annotator_id = user_id(actor, action="look at their answers")
    changes = (
        select(func.count())
        .select_from(AnswerChange)
        .where(
            AnswerChange.image_id == ImageVote.image_id,
            AnswerChange.annotator_id == annotator_id,
            AnswerChange.action != "answer",
        )
        .scalar_subquery()
    )
    frozen = or_(Image.frozen_at.is_not(None), in_snapshot_this_round(Image.id))
    query = (
        select(
            ImageVote.image_id,
            Image.sha256,
            ImageVote.mood,
            ImageVote.updated_at,
            ImageVote.guidelines_version,
            frozen,
            changes,
        )
        .join(Image, Image.id == ImageVote.image_id)
        .where(ImageVote.annotator_id == annotator_id)
        .order_by(ImageVote.updated_at.desc(), ImageVote.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        MyAnswer(image_id, sha, mood, at, version, bool(is_frozen), int(n))
        for image_id, sha, mood, at, version, is_frozen, n in session.execute(query)
    ]


def count_mine(*, session: Session, actor: Actor) -> int:
    require_role(actor, *ANNOTATING, action="look at their answers")
    query = select(func.count()).select_from(ImageVote).where(ImageVote.annotator_id == actor.id)
    return session.scalar(query) or 0

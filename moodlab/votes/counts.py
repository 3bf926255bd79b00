"""What a vote is, counted one way on every page and command.

A vote is a mood given to an image. A skip is an answer but no vote: it fills an
annotator's slot on the image and counts toward nothing else. Home, Agreement,
`moodlab status` and `moodlab agreement` all count with this (docs/architecture.md,
"Annotation").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moodlab.core.models import ImageVote
from moodlab.core.text import plural


@dataclass(frozen=True)
class AnswerCounts:
    votes: int  # moods given
    skips: int  # answers that give no mood

    @property
    def answers(self) -> int:
        return self.votes + self.skips

    def __str__(self) -> str:
        """``"1,434 votes and 38 skips"``."""
        return f"{plural(self.votes, 'vote')} and {plural(self.skips, 'skip')}"


def answer_counts(session: Session, *, annotator_id: int | None = None) -> AnswerCounts:
    """Votes and skips of everyone, or of one annotator."""
    query = select(ImageVote.mood.is_not(None), func.count()).group_by(ImageVote.mood.is_not(None))
    if annotator_id is not None:
        query = query.where(ImageVote.annotator_id == annotator_id)
    counted = {bool(voted): int(n) for voted, n in session.execute(query)}
    return AnswerCounts(votes=counted.get(True, 0), skips=counted.get(False, 0))

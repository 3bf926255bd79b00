"""2-2 ties: the disputed images, and the lead's tie-break (a tied mood, or leave it out)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import ImageVote, Role, TieBreak
from moodlab.core.timeutil import utcnow
from moodlab.datasets.snapshots import _Decisions, _decisions, _quorum
from moodlab.votes.arrays import VersionCache, votes_version
from moodlab.votes.quorum import Tier, decide

_DISPUTED = VersionCache(size=4)


@dataclass(frozen=True)
class Disputed:
    image_id: int
    sha256: str
    votes: dict[str, int]
    tied: list[str]
    decision: str | None  # the mood chosen, "left out", or None while undecided


def disputed_images(*, session: Session, actor: Actor, settings: Settings) -> list[Disputed]:
    """Every 2-2 tie, with its votes (the lead sees them; annotators never do)."""
    require_role(actor, Role.LEAD, action="see disputed images")
    version = votes_version(session)
    return _DISPUTED.get(
        (version, _quorum(settings)),
        lambda: _disputed(session, _decisions(session, settings, version)),
    )


def _disputed(session: Session, found: _Decisions) -> list[Disputed]:
    breaks = dict(session.execute(select(TieBreak.image_id, TieBreak.mood)).all())
    result = []
    for i in np.flatnonzero(found.tiers == 2).tolist():
        image_id, votes = int(found.items[i]), found.votes_of(i)
        top = max(votes.values())
        decision = None
        if image_id in breaks:
            decision = breaks[image_id] or "left out"
        tied = [name for name, n in votes.items() if n == top]
        result.append(Disputed(image_id, found.shas[i], votes, tied, decision))
    return result


def break_tie(
    *, session: Session, actor: Actor, settings: Settings, image_id: int, mood: str | None
) -> TieBreak:
    """Record the lead's decision on a 2-2 tie: one of the tied moods, or None to leave it out."""
    require_role(actor, Role.LEAD, action="break ties")
    answers = session.scalars(select(ImageVote.mood).where(ImageVote.image_id == image_id)).all()
    if decide(answers, settings).tier != Tier.DISPUTED:
        raise MoodlabError(f"image {image_id} is not a disputed (tied) image")
    votes = Counter(answer for answer in answers if answer is not None)
    tied = [name for name in moods.names() if votes[name] == max(votes.values())]
    chosen = None if mood is None else moods.get(mood).name
    if chosen is not None and chosen not in tied:
        raise MoodlabError(f"{chosen} is not one of the tied moods ({' or '.join(tied)})")
    existing = session.scalar(select(TieBreak).where(TieBreak.image_id == image_id))
    if existing is None:
        existing = TieBreak(image_id=image_id)
        session.add(existing)
    existing.mood, existing.decided_by_id, existing.decided_at = chosen, actor.id, utcnow()
    return existing

"""Votes on background tracks: which mood a track fits, or "not usable".

Same rules as image votes: one answer per annotator and track, changeable,
blind. A track is accepted for a mood when train_quorum annotators agree (3 of
4 by default), and rejected when that many call it not usable.

Blind means more than hidden counts: generated tracks are titled with the mood
they were made for ("Happy 2"), so an annotator who has not voted on a track sees
it under a neutral title (``blind_title``: "Track 12"), without its status or
accepted mood, until they have voted on it (docs/music.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role, user_id
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.models import Track, TrackStatus, TrackVote
from moodlab.votes.annotation import ANNOTATING, check_annotator, upsert_vote

NOT_USABLE = "not usable"


@dataclass(frozen=True)
class PreviousTrackVote:
    track_id: int
    existed: bool
    mood: str | None


def blind_title(track: Track) -> str:
    """What an annotator who has not voted on ``track`` sees: no intended mood in it."""
    return f"Track {track.id}"


def _waiting(actor: Actor):
    mine = exists().where(TrackVote.track_id == Track.id, TrackVote.annotator_id == actor.id)
    return select(Track).where(~mine, Track.status != TrackStatus.REJECTED)


def next_track(*, session: Session, actor: Actor, first: int | None = None) -> Track | None:
    """A track this annotator has not voted on, oldest first (rejected ones aside).

    ``first``, a track whose vote was just undone, comes first while it still waits.
    """
    require_role(actor, *ANNOTATING, action="vote on music")
    if first is not None:
        lead = session.scalars(_waiting(actor).where(Track.id == first)).first()
        if lead is not None:
            return lead
    return session.scalars(_waiting(actor).order_by(Track.id)).first()


def tracks_left(*, session: Session, actor: Actor) -> int:
    """How many tracks wait for this annotator's vote ("N tracks left")."""
    require_role(actor, *ANNOTATING, action="vote on music")
    return session.scalar(select(func.count()).select_from(_waiting(actor).subquery())) or 0


def voted_track_ids(*, session: Session, actor: Actor) -> set[int]:
    """The tracks ``actor`` has voted on: the ones whose mood and counts they may see."""
    if actor.id is None:
        return set()
    return set(
        session.scalars(select(TrackVote.track_id).where(TrackVote.annotator_id == actor.id))
    )


def vote_track(
    *, session: Session, actor: Actor, settings: Settings, track_id: int, mood: str | None
) -> PreviousTrackVote:
    """Record the mood a track fits (None or "not usable" for unusable); re-derive its status."""
    require_role(actor, *ANNOTATING, action="vote on music")
    track = session.get(Track, track_id, with_for_update=True)
    if track is None:
        raise NotFound(f"no track with id {track_id}")
    check_annotator(session, actor)
    value = None if mood is None or mood.strip().lower() == NOT_USABLE else moods.get(mood).name
    keys = {"track_id": track_id, "annotator_id": user_id(actor, action="vote on music")}
    previous = upsert_vote(session, TrackVote, keys, value)
    session.flush()
    _settle_status(session, track, settings)
    return PreviousTrackVote(track_id, previous is not None, previous[0] if previous else None)


def undo_track_vote(
    *, session: Session, actor: Actor, settings: Settings, previous: PreviousTrackVote
) -> None:
    """Put ``actor``'s vote on a track back to what it was before their last vote."""
    require_role(actor, *ANNOTATING, action="vote on music")
    track = session.get(Track, previous.track_id, with_for_update=True)
    if track is None:
        raise NotFound(f"no track with id {previous.track_id}")
    check_annotator(session, actor)
    keys = {"track_id": previous.track_id, "annotator_id": user_id(actor, action="vote on music")}
    if previous.existed:
        upsert_vote(session, TrackVote, keys, previous.mood)
    else:
        session.execute(
            delete(TrackVote).where(
                TrackVote.track_id == previous.track_id,
                TrackVote.annotator_id == keys["annotator_id"],
            )
        )
    session.flush()
    _settle_status(session, track, settings)


def track_vote_counts(*, session: Session, track_id: int) -> Counter:
    """Votes per mood for a track ("not usable" included), for the Music page."""
    answers = session.scalars(select(TrackVote.mood).where(TrackVote.track_id == track_id))
    return Counter(NOT_USABLE if mood is None else mood for mood in answers)


def _settle_status(session: Session, track: Track, settings: Settings) -> None:
    counts = track_vote_counts(session=session, track_id=track.id)
    top, votes = (counts.most_common(1) or [(None, 0)])[0]
    if votes >= settings.train_quorum and top == NOT_USABLE:
        track.status = TrackStatus.REJECTED
    elif votes >= settings.train_quorum:
        track.status, track.mood = TrackStatus.ACCEPTED, top
    elif track.status in (TrackStatus.ACCEPTED, TrackStatus.REJECTED):
        # A changed vote undid the quorum: back to what it was before the votes.
        track.status = TrackStatus.GENERATED if track.is_generated else TrackStatus.CANDIDATE
        track.mood = track.intended_mood

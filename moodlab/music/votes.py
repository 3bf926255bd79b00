"""Votes on background tracks: which mood a track fits, or "not usable".

Same rules as image votes: one answer per annotator and track, blind. A track is
accepted for a mood when train_quorum annotators agree (3 of 4 by default), and
rejected when that many call it not usable.

Blind means no counts, status or mood of a track for an annotator before their own
vote on it is final, and a vote becomes final when they leave the track (vote on
another) or see any result (the Music page: ``close_voting``). Until then it may be
undone or changed; from then on it is refused, so nobody votes, looks at the counts,
undoes and votes with the majority. The services, not the pages, hold these rules:
``vote_track`` and ``undo_track_vote`` refuse a final vote, and the counts and status
services (moodlab.music.library) count only final votes as seen. Tracks are offered
in an order of each annotator's own and under names that give no mood away
(moodlab.music.blind; docs/music.md, "Music votes").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role, user_id
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Track, TrackStatus, TrackVote
from moodlab.core.timeutil import utcnow
from moodlab.music.blind import (
    BlindTrack,
    blind,
    blind_name,
    order_key,
    seed_of,
)
from moodlab.music.titles import generated_title
from moodlab.votes.annotation import ANNOTATING, check_annotator, upsert_vote

NOT_USABLE = "not usable"
VOTE = "vote on music"


class FinalVote(MoodlabError):
    """The annotator's vote on this track is final: they left the track or saw a result."""


@dataclass(frozen=True)
class PreviousTrackVote:
    track_id: int
    existed: bool
    mood: str | None


def _waiting(annotator_id: int):
    mine = exists().where(TrackVote.track_id == Track.id, TrackVote.annotator_id == annotator_id)
    return select(Track.id).where(~mine, Track.status != TrackStatus.REJECTED)


def next_track(*, session: Session, actor: Actor, first: int | None = None) -> BlindTrack | None:
    """A track this annotator has not voted on (rejected ones aside), as they may see it.

    Tracks come in the annotator's own order (moodlab.music.blind), never in id order,
    which is mood order for the default library. ``first``, a track whose vote was
    just undone, comes first while it still waits.
    """
    require_role(actor, *ANNOTATING, action=VOTE)
    annotator_id = user_id(actor, action=VOTE)
    waiting = set(session.scalars(_waiting(annotator_id)))
    if not waiting:
        return None
    seed = seed_of(session, actor)
    chosen = first if first in waiting else min(waiting, key=lambda i: order_key(seed, i))
    return blind(session.get_one(Track, chosen), seed)


def next_tracks(
    *, session: Session, actor: Actor, limit: int, first: int | None = None
) -> list[BlindTrack]:
    """The next ``limit`` tracks of the annotator's own queue (as ``next_track``): the
    Music votes page holds them in the browser, so a vote brings the next at once."""
    require_role(actor, *ANNOTATING, action=VOTE)
    waiting = set(session.scalars(_waiting(user_id(actor, action=VOTE))))
    seed = seed_of(session, actor)
    ordered = sorted(waiting, key=lambda i: (i != first, order_key(seed, i)))[:limit]
    return [blind(session.get_one(Track, i), seed) for i in ordered]


def tracks_left(*, session: Session, actor: Actor) -> int:
    """How many tracks wait for this annotator's vote ("N tracks left")."""
    require_role(actor, *ANNOTATING, action=VOTE)
    query = _waiting(user_id(actor, action=VOTE)).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def final_track_ids(*, session: Session, actor: Actor) -> set[int]:
    """The tracks whose vote by ``actor`` is final: the only ones whose counts they may see."""
    if actor.id is None:
        return set()
    query = select(TrackVote.track_id).where(
        TrackVote.annotator_id == actor.id, TrackVote.final_at.is_not(None)
    )
    return set(session.scalars(query))


def close_voting(*, session: Session, actor: Actor, keep: int | None = None) -> int:
    """Make ``actor``'s votes final (all but the one on track ``keep``); how many changed.

    Called when they leave a track for another, and before any result is shown to them.
    """
    if actor.id is None:
        return 0
    query = update(TrackVote).where(
        TrackVote.annotator_id == actor.id, TrackVote.final_at.is_(None)
    )
    if keep is not None:
        query = query.where(TrackVote.track_id != keep)
    closed = session.execute(query.values(final_at=utcnow()))
    return closed.rowcount or 0  # type: ignore[attr-defined]


def can_undo(*, session: Session, actor: Actor, previous: PreviousTrackVote) -> bool:
    """Whether ``previous`` (the page's last vote) may still be undone: its vote is not final."""
    if actor.id is None:
        return False
    final = session.scalar(
        select(TrackVote.final_at).where(
            TrackVote.track_id == previous.track_id, TrackVote.annotator_id == actor.id
        )
    )
    return final is None


def vote_track(
    *, session: Session, actor: Actor, settings: Settings, track_id: int, mood: str | None
) -> PreviousTrackVote:
    """Record the mood a track fits (None or "not usable" for unusable); re-derive its status.

    Voting on a track leaves every other: the annotator's votes on them become final.
    A vote already final is refused (FinalVote), and nothing is written.
    """
    require_role(actor, *ANNOTATING, action=VOTE)
    track = session.get(Track, track_id, with_for_update=True)
    if track is None:
        raise NotFound(f"no track with id {track_id}")
    check_annotator(session, actor)
    value = None if mood is None or mood.strip().lower() == NOT_USABLE else moods.get(mood).name
    annotator_id = user_id(actor, action=VOTE)
    _refuse_final(session, actor, track_id, "changed")
    close_voting(session=session, actor=actor, keep=track_id)
    keys = {"track_id": track_id, "annotator_id": annotator_id}
    previous = upsert_vote(session, TrackVote, keys, value)
    session.flush()
    _settle_status(session, track, settings)
    return PreviousTrackVote(track_id, previous is not None, previous[0] if previous else None)


def undo_track_vote(
    *, session: Session, actor: Actor, settings: Settings, previous: PreviousTrackVote
) -> None:
    """Put ``actor``'s vote on a track back to what it was before their last vote.

    Refused (FinalVote) once the vote is final: after they left the track or saw a result.
    """
    require_role(actor, *ANNOTATING, action=VOTE)
    track = session.get(Track, previous.track_id, with_for_update=True)
    if track is None:
        raise NotFound(f"no track with id {previous.track_id}")
    check_annotator(session, actor)
    annotator_id = user_id(actor, action=VOTE)
    _refuse_final(session, actor, previous.track_id, "undone")
    keys = {"track_id": previous.track_id, "annotator_id": annotator_id}
    if previous.existed:
        upsert_vote(session, TrackVote, keys, previous.mood)
    else:
        session.execute(
            delete(TrackVote).where(
                TrackVote.track_id == previous.track_id, TrackVote.annotator_id == annotator_id
            )
        )
    session.flush()
    _settle_status(session, track, settings)


def _refuse_final(session: Session, actor: Actor, track_id: int, what: str) -> None:
    if can_undo(session=session, actor=actor, previous=PreviousTrackVote(track_id, True, None)):
        return
    name = blind_name(seed_of(session, actor), track_id)
    raise FinalVote(
        f"your vote on {name} is final (you left the track or saw its results):"
        f" it can no longer be {what}"
    )


def track_vote_counts(*, session: Session, track_id: int) -> Counter:
    """Votes per mood for a track ("not usable" included): for status, never for an annotator."""
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
    if track.is_generated and track.intended_mood:
        # Its title names its mood ("Happy 2"): it follows the mood it was accepted for.
        track.title = generated_title(track.path, track.intended_mood, track.mood)

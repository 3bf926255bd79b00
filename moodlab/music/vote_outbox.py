"""The Music votes page's outbox: the votes and undos a browser sent, applied in order.

As on the Annotate page (moodlab.votes.annotation.Outbox), the browser swaps to the
next track at once and sends its answers as numbered entries, re-sent until they are
acknowledged; applying one twice changes nothing. An entry also says how many seconds
of the track were heard: a vote on a track heard for less than LISTEN_S seconds (or to
its end, if shorter) is refused, whatever the browser let through.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import retry_locked
from moodlab.core.errors import MoodlabError, NotFound
from moodlab.core.models import Track
from moodlab.music.blind import blind_name, seed_of
from moodlab.music.votes import PreviousTrackVote, undo_track_vote, vote_track

# Seconds of a track an annotator hears before they may vote on it (the whole track
# when it is shorter): a mood is not judged from the first bar.
LISTEN_S = 5.0
# Players report their position a few times a second: this much short of the end is
# the end.
END_SLACK_S = 0.5


@dataclass
class TrackOutbox:
    acked: int = 0
    last: PreviousTrackVote | None = None  # the vote an undo takes back
    undone: int | None = None  # a track just put back, to offer first
    error: str | None = None


def heard_enough(listened_s: float, duration_s: float) -> bool:
    return listened_s >= min(LISTEN_S, max(0.0, duration_s - END_SLACK_S))


def apply_track_outbox(
    *,
    session_factory: Callable[[], AbstractContextManager[Session]],
    actor: Actor,
    settings: Settings,
    outbox: TrackOutbox,
    entries: Any,
) -> TrackOutbox:
    """Apply the entries newer than ``outbox.acked``, each in its own transaction.

    An entry is {"seq", "track_id", "mood", "listened_s"} (mood None: not usable) or
    {"seq", "undo": true}. A malformed or refused entry leaves its reason in
    ``outbox.error`` and is acknowledged; nothing of it is written.
    """
    outbox.error = None
    parsed = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            parsed.append(_check(entry))
        except MoodlabError as exc:
            outbox.error = str(exc)
    for seq, entry in sorted(parsed, key=lambda pair: pair[0]):
        if seq <= outbox.acked:
            continue

        def write(entry: dict[str, Any] = entry) -> None:
            with session_factory() as session:
                _apply(session, actor, settings, outbox, entry)

        try:
            retry_locked(write, what="the undo" if entry.get("undo") else "the vote")
        except MoodlabError as exc:
            outbox.error = str(exc)
        outbox.acked = seq
    return outbox


def _check(entry: Any) -> tuple[int, dict[str, Any]]:
    def bad(reason: str) -> MoodlabError:
        return MoodlabError(f"a vote sent by the browser was not stored: {reason}")

    if not isinstance(entry, dict):
        raise bad(f"expected an object, got {type(entry).__name__}")
    seq = entry.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise bad(f"its sequence number {seq!r} is not a positive whole number")
    if entry.get("undo") is True:
        return seq, {"undo": True}
    track_id, mood, heard = entry.get("track_id"), entry.get("mood"), entry.get("listened_s")
    if isinstance(track_id, bool) or not isinstance(track_id, int) or track_id < 1:
        raise bad(f"entry {seq}: track id {track_id!r} is not a positive whole number")
    if mood is not None and not isinstance(mood, str):
        raise bad(f"entry {seq}: mood {mood!r} is not a mood name")
    if isinstance(heard, bool) or not isinstance(heard, int | float) or heard < 0:
        raise bad(f"entry {seq}: seconds heard {heard!r} is not a number of seconds")
    return seq, {"track_id": track_id, "mood": mood, "listened_s": float(heard)}


def _apply(
    session: Session, actor: Actor, settings: Settings, outbox: TrackOutbox, entry: dict
) -> None:
    if entry.get("undo"):
        if outbox.last is not None:
            undo_track_vote(session=session, actor=actor, settings=settings, previous=outbox.last)
            outbox.undone, outbox.last = outbox.last.track_id, None
        return
    track = session.get(Track, entry["track_id"])
    if track is None:
        raise NotFound(f"no track with id {entry['track_id']}")
    if not heard_enough(entry["listened_s"], track.duration_s):
        name = blind_name(seed_of(session, actor), track.id)
        raise MoodlabError(
            f"your vote on {name} was not stored: listen to at least {LISTEN_S:.0f} s of it"
            f" (or to its end) first; {entry['listened_s']:.1f} s were heard"
        )
    outbox.last = vote_track(
        session=session,
        actor=actor,
        settings=settings,
        track_id=track.id,
        mood=entry["mood"],
    )
    outbox.undone = None

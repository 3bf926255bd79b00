"""Choosing a track for a mood: the one place the rule lives (a video's soundtrack uses it).

The best fitting kind of track comes first: accepted for the mood, accepted for a
neighbouring mood, generated for the mood, a candidate added for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.errors import NotFound
from moodlab.core.models import Track, TrackStatus


def _distance(mood: str, point: tuple[float, float] | None) -> float:
    if point is None:
        return 0.0
    spec = moods.get(mood)
    return round(math.dist((spec.valence, spec.arousal), point), 9)


@dataclass(frozen=True)
class TrackChoice:
    track: Track
    mood: str  # the track's (one of the moods asked for, so never None)
    warning: str | None  # set when no accepted track of the mood itself was found


def choose_track(
    *,
    session: Session,
    settings: Settings,
    mood: str,
    seed: int = 0,
    exclude: tuple[int, ...] = (),
    point: tuple[float, float] | None = None,
) -> TrackChoice:
    """The background track for a mood, the best fitting kind first.

    1. an accepted track of the mood;
    2. an accepted track of a neighbouring mood (the paper: a neighbouring mood
       still gives acceptable music, and it is one the annotators approved);
    3. a generated track made for the mood;
    4. a candidate track added for the mood.
    Every step after the first comes with a warning; rejected tracks and tracks
    whose file is missing never come. Within a step the track whose mood lies
    nearest to ``point`` (a valence/arousal point, e.g. a video's
    probability-weighted one) wins; ``seed`` breaks ties (same seed, same track).
    """
    wanted = moods.get(mood).name
    near = [m.name for m in moods.neighbours(wanted)]
    steps = (
        (TrackStatus.ACCEPTED, [wanted], None),
        (
            TrackStatus.ACCEPTED,
            near,
            "no accepted track for {mood}: using an accepted {found} track, a neighbouring mood",
        ),
        (
            TrackStatus.GENERATED,
            [wanted],
            "no accepted track for {mood}: using a generated"
            " {mood} track that annotators have not accepted yet",
        ),
        (
            TrackStatus.CANDIDATE,
            [wanted],
            "no accepted or generated track for {mood}: using"
            " a candidate track that annotators have not accepted",
        ),
    )
    for status, wanted_moods, warning in steps:
        query = select(Track).where(Track.status == status, Track.mood.in_(wanted_moods))
        found = [
            (t, t.mood)
            for t in session.scalars(query.order_by(Track.id))
            if t.mood is not None
            and t.id not in exclude
            and (settings.music_dir / t.path).is_file()
        ]
        if found:
            tiebreak = np.random.default_rng(seed).random(len(found))
            distance = [_distance(track_mood, point) for _, track_mood in found]
            best = min(range(len(found)), key=lambda i: (distance[i], tiebreak[i]))
            track, track_mood = found[best]
            text = warning.format(mood=wanted, found=track_mood) if warning else None
            return TrackChoice(track=track, mood=track_mood, warning=text)
    raise NotFound(
        f"no usable track for {wanted}: generate the default library"
        " (`moodlab music generate`) or add one (`moodlab music import FILE --mood"
        f" {wanted}`)"
    )

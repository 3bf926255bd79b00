"""Which track fits a mood, and the soundtrack built from the chosen tracks.

``choose_track`` turns a video's mean probabilities into the music library's
choice (``moodlab.music.choice.choose_track``: the one place the rule lives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from moodlab.core import moods, processes
from moodlab.core.config import Settings
from moodlab.music import choice as track_choice
from moodlab.video import timeline
from moodlab.video.probe import VideoError, ffmpeg_exe

# Seconds over which one track hands over to the next at a segment boundary.
CROSSFADE_S = 2.0
FADE_IN_S = 1.0
FADE_OUT_S = 2.0
SAMPLE_RATE = 44_100


@dataclass(frozen=True)
class TrackChoice:
    track_id: int
    path: Path  # absolute
    mood: str
    status: str
    warning: str | None  # said to the user when the choice is a fallback


def choose_track(
    *, session: Session, settings: Settings, probs: Sequence[float] | np.ndarray, seed: int
) -> TrackChoice:
    """The track for a distribution over the moods (in moods.names() order): the
    music library's choice for the winning mood, nearest to the weighted point."""
    mood = moods.names()[int(np.asarray(probs).argmax())]
    choice = track_choice.choose_track(
        session=session,
        settings=settings,
        mood=mood,
        seed=seed,
        point=timeline.va_point(np.asarray(probs)),
    )
    track = choice.track
    return TrackChoice(
        track.id, settings.music_dir / track.path, choice.mood, track.status, choice.warning
    )


@dataclass(frozen=True)
class Piece:
    """One stretch of the soundtrack: a track from ``start_s`` to ``end_s``."""

    track_id: int
    path: Path
    mood: str
    start_s: float
    end_s: float

    def as_dict(self) -> dict:
        return {
            "track_id": self.track_id,
            "mood": self.mood,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
        }


def joined(pieces: list[Piece]) -> list[Piece]:
    """Neighbouring pieces that play the same track become one (no change, no fade)."""
    out: list[Piece] = []
    for piece in pieces:
        if out and out[-1].track_id == piece.track_id:
            last = out[-1]
            out[-1] = Piece(last.track_id, last.path, last.mood, last.start_s, piece.end_s)
        else:
            out.append(piece)
    return out


def render(pieces: list[Piece], duration: float, out: Path) -> None:
    """Write the soundtrack to ``out`` (AAC in an .m4a): each track looped to its
    stretch, crossfades centred on the boundaries, faded in and out, and exactly
    ``duration`` seconds long."""
    pieces = joined(pieces)
    shortest = min(p.end_s - p.start_s for p in pieces)
    crossfade = min(CROSSFADE_S, shortest / 4) if len(pieces) > 1 else 0.0
    inputs: list[str] = []
    chains: list[str] = []
    for i, piece in enumerate(pieces):
        # Each stretch runs half a crossfade into its neighbours, so that the overlaps
        # acrossfade makes add up to exactly the video's length.
        extra = crossfade / 2 * ((i > 0) + (i < len(pieces) - 1))
        length = piece.end_s - piece.start_s + extra
        inputs += ["-stream_loop", "-1", "-i", str(piece.path)]
        chains.append(
            f"[{i}:a:0]aformat=sample_rates={SAMPLE_RATE}:channel_layouts=stereo,"
            f"atrim=0:{length:.6f},asetpts=PTS-STARTPTS[p{i}]"
        )
    last = "p0"
    for i in range(1, len(pieces)):
        chains.append(f"[{last}][p{i}]acrossfade=d={crossfade:.6f}:c1=tri:c2=tri[x{i}]")
        last = f"x{i}"
    fade_in, fade_out = min(FADE_IN_S, duration / 4), min(FADE_OUT_S, duration / 4)
    chains.append(
        f"[{last}]apad,atrim=0:{duration:.6f},afade=t=in:d={fade_in:.6f},"
        f"afade=t=out:st={duration - fade_out:.6f}:d={fade_out:.6f}[out]"
    )
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        *inputs,
        "-filter_complex",
        ";".join(chains),
        "-map",
        "[out]",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-t",
        f"{duration:.6f}",
        "-f",
        "mp4",
        str(out),
    ]
    result = processes.run(command, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise VideoError(f"the soundtrack could not be made: {result.stderr.strip()[-300:]}")

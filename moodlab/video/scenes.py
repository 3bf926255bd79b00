"""Scene cuts from ffmpeg's scene-change score, and segments long enough for a track."""

from __future__ import annotations

import re
from pathlib import Path

from moodlab.core import processes
from moodlab.video.probe import VideoError, ffmpeg_exe

# ffmpeg's scene score (0..1) above which a frame starts a new shot; 0.3 is the
# value its documentation suggests for hard cuts.
CUT_THRESHOLD = 0.3
# A track needs time to establish itself: shorter segments join a neighbour.
MIN_SEGMENT_S = 8.0
# Scene scores are computed on a small copy: cuts do not need detail, and this is
# several times cheaper than scoring full frames.
SCORE_WIDTH = 160

_PTS_TIME = re.compile(r"pts_time:\s*(\d+(?:\.\d+)?)")


def detect_cuts(path: Path, threshold: float = CUT_THRESHOLD) -> list[float]:
    """Times (seconds) where a new shot starts."""
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-vf",
        f"scale={SCORE_WIDTH}:-2,select='gt(scene,{threshold})',showinfo",
        "-f",
        "null",
        "-",
    ]
    result = processes.run(command, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise VideoError(f"{path.name}: scene detection failed")
    return [
        float(m.group(1))
        for line in result.stderr.splitlines()
        if "Parsed_showinfo" in line and (m := _PTS_TIME.search(line))
    ]


def plan_segments(
    duration: float, cuts: list[float], min_length: float = MIN_SEGMENT_S
) -> list[tuple[float, float]]:
    """(start, end) pairs covering [0, duration], split at cuts, none shorter than
    ``min_length`` unless the whole video is: a cut is kept only when the segment it
    closes and the rest of the video are both at least ``min_length`` long.
    """
    boundaries = [0.0]
    for cut in sorted(cuts):
        if cut - boundaries[-1] >= min_length and duration - cut >= min_length:
            boundaries.append(cut)
    boundaries.append(duration)
    return list(zip(boundaries[:-1], boundaries[1:], strict=True))


def describe(
    duration: float, cuts: list[float], bounds: list[tuple[float, float]], *, segments: bool
) -> str:
    """What the mood mode did, in a sentence: one mood for the whole video, or a mood per
    scene, and when scenes were joined, why."""
    if not segments:
        return "one mood and track for the whole video (a mood per scene was not asked for)"
    kept = len(bounds)
    found = len(cuts)
    if found == 0:
        return "a mood per scene was asked for, but no scene cut was found: one segment"
    joined = found - (kept - 1)
    text = f"a mood per scene: {found} scene {'cut' if found == 1 else 'cuts'} found, {kept}"
    text += " segment" if kept == 1 else " segments"
    if joined:
        text += (
            f"; {joined} {'cut was' if joined == 1 else 'cuts were'} not used, because a"
            f" segment must last at least {MIN_SEGMENT_S:g} s for its track to establish"
            " itself, so shorter scenes joined their neighbours"
        )
        if duration < 2 * MIN_SEGMENT_S:
            text += f" (the whole video is {duration:.1f} s)"
    return text

"""The mood taxonomy: eight moods on Russell's valence-arousal circle.

Everything that needs mood names, their order or their geometry reads it from
here, and this module reads it from ``moods.toml`` (the one source of the table).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from moodlab.core.errors import MoodlabError


@dataclass(frozen=True)
class Mood:
    name: str
    angle: float  # degrees counter-clockwise from +valence
    key: str  # keyboard shortcut on the Annotate page
    index: int  # position in circle order, also the model's class index

    @property
    def valence(self) -> float:
        return math.cos(math.radians(self.angle))

    @property
    def arousal(self) -> float:
        return math.sin(math.radians(self.angle))


class UnknownMood(MoodlabError, ValueError):
    """A mood name that is not in the taxonomy."""


@cache
def all_moods() -> tuple[Mood, ...]:
    """The moods in circle order (increasing angle)."""
    text = resources.files("moodlab.core").joinpath("moods.toml").read_text(encoding="utf-8")
    rows = sorted(tomllib.loads(text)["mood"], key=lambda row: row["angle"])
    return tuple(
        Mood(name=row["name"], angle=float(row["angle"]), key=str(row["key"]), index=i)
        for i, row in enumerate(rows)
    )


def names() -> list[str]:
    return [mood.name for mood in all_moods()]


def get(name: str) -> Mood:
    """The mood called ``name``, case-insensitively; UnknownMood otherwise."""
    wanted = name.strip().lower()
    for mood in all_moods():
        if mood.name.lower() == wanted:
            return mood
    raise UnknownMood(f"unknown mood {name!r}: expected one of {', '.join(names())}")


def neighbours(name: str) -> tuple[Mood, Mood]:
    """The two moods next to ``name`` on the circle (clockwise, counter-clockwise)."""
    moods = all_moods()
    i = get(name).index
    return moods[(i - 1) % len(moods)], moods[(i + 1) % len(moods)]


def circle_steps(a: str, b: str) -> int:
    """How many places apart two moods are in circle order (0..4)."""
    n = len(all_moods())
    diff = abs(get(a).index - get(b).index) % n
    return min(diff, n - diff)

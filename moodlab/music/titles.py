"""A default track's title, which names the mood it is listed under.

The default library is titled by mood ("Happy 2"). Once annotators accept a track for
another mood it is listed there, and a title naming the first mood would mislead:
it becomes "Peaceful (made as Happy 2)", and "Happy 2" again if that acceptance is undone.
"""

from __future__ import annotations

import re

# The number in a default track's path ("generated/happy-2-seed123.mp3" is Happy 2).
PATH_NUMBER = re.compile(r"-(\d+)-seed\d+\.mp3$")


def generated_title(path: str, intended_mood: str, mood: str | None) -> str:
    """The title of the default track at ``path``, made for ``intended_mood``, now
    listed under ``mood``."""
    found = PATH_NUMBER.search(path)
    made_as = f"{intended_mood} {found.group(1)}" if found else intended_mood
    return made_as if mood in (None, intended_mood) else f"{mood} (made as {made_as})"

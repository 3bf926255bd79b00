"""Words for numbers, so every page and command says "1 image" and "2 images"."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 disputed image"``, ``"2 disputed images"``; ``many`` for irregular plurals."""
    if count == 1:
        return f"{count:,} {word}"
    return f"{count:,} {many or _plural_of(word)}"


def _plural_of(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def label(key: str) -> str:
    """A stored key as a person reads it: ``no_consensus`` -> ``no consensus``."""
    return key.replace("_", " ")

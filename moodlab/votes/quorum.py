"""The quorum rules (docs/architecture.md, "Quorum rules"): which tier an image's votes put it in.

``decide_many`` is the one implementation (vectorised, for 100,000 images at a
time); ``decide`` applies it to one image. Skips are answers but not votes.
``settled`` says when the answers still to come can no longer change an image's tier
or label: such an image leaves every queue early (docs/architecture.md, "Early stop").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError


class Tier(enum.StrEnum):
    TRAIN = "train"  # a unique top mood with at least train_quorum votes
    TEST = "test"  # a unique top mood with test_quorum .. train_quorum-1 votes, all answers in
    DISPUTED = "disputed"  # a tie at the top with test_quorum or more votes (2-2), all in
    NO_CONSENSUS = "no_consensus"  # all answers in and no mood reached test_quorum
    PENDING = "pending"  # answers are missing and the outcome is still open


TIER_ORDER = (Tier.TRAIN, Tier.TEST, Tier.DISPUTED, Tier.NO_CONSENSUS, Tier.PENDING)
SKIPPED = -1  # the mood index of a skip in the answer arrays


@dataclass(frozen=True)
class Tally:
    """Answers gathered per image, the input of ``decide_many`` and of the statistics."""

    items: np.ndarray  # image ids, ascending
    item_of_answer: np.ndarray  # for each answer, its image's row in ``items``
    mood_of_answer: np.ndarray  # for each answer, its mood index, or SKIPPED
    counts: np.ndarray  # votes per mood, shape (images, 8), circle order
    answers: np.ndarray  # votes plus skips per image


def tally(image_ids: Iterable[int], answers: Iterable[str | None]) -> Tally:
    """Count (image id, mood name or None) answers into per-image vote counts."""
    index = {name: i for i, name in enumerate(moods.names())}
    image_ids = np.fromiter(image_ids, dtype=np.int64)
    try:
        mood_of_answer = np.fromiter(
            (SKIPPED if a is None else index[a] for a in answers), np.int64, len(image_ids)
        )
    except KeyError as exc:
        raise MoodlabError(
            f"a vote names the mood {exc.args[0]!r}, which moods.toml lacks"
        ) from None
    return tally_indexes(image_ids, mood_of_answer)


def tally_indexes(image_ids: np.ndarray, mood_of_answer: np.ndarray) -> Tally:
    """Count answers given as arrays (image id, mood index or SKIPPED) per image."""
    n_moods = len(moods.names())
    items, item_of_answer = np.unique(np.asarray(image_ids, np.int64), return_inverse=True)
    mood_of_answer = np.asarray(mood_of_answer, np.int64)
    voted = mood_of_answer != SKIPPED
    flat = np.bincount(
        item_of_answer[voted] * n_moods + mood_of_answer[voted], minlength=len(items) * n_moods
    )
    return Tally(
        items=items,
        item_of_answer=item_of_answer,
        mood_of_answer=mood_of_answer,
        counts=flat.reshape(len(items), n_moods).astype(np.int64),
        answers=np.bincount(item_of_answer, minlength=len(items)),
    )


@dataclass(frozen=True)
class Decision:
    tier: Tier
    mood: str | None  # the label, for train and test
    top_votes: int


def settled(top: Any, second: Any, left: Any, settings: Settings) -> Any:
    """Whether no way of giving the ``left`` answers still to come changes the tier or label.

    ``top`` and ``second``: the votes of the most and the second most voted mood; each
    answer to come may be a vote for any mood or a skip. Exact (tests/votes/test_quorum.py
    checks it against every answer sequence): the tier of all answers in is certain when
    no mood can reach the top one (``top - second > left``) and the top can neither fall
    short of test_quorum nor cross train_quorum, or when no mood can reach test_quorum at
    all. A tie is never certain while an answer is to come (one vote breaks it). Works on
    ints, numpy arrays and SQL column expressions alike (``&``, ``|``, no ``and``/``or``).
    """
    train, test = settings.train_quorum, settings.test_quorum
    stays_on_top = (top - second) > left
    keeps_its_tier = (top >= train) | (top + left < train)
    return (left <= 0) | (top + left < test) | (stays_on_top & (top >= test) & keeps_its_tier)


def decide_many(
    counts: np.ndarray, answers: np.ndarray, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Tiers (indexes into TIER_ORDER) and labels (mood index, -1 for none) per image.

    ``counts``: votes per mood, shape (images, 8), in circle order.
    ``answers``: votes plus skips per image.
    An image whose answers still to come cannot change its outcome (``settled``) has the
    tier all its answers would give, pending answers or not.
    """
    counts = np.asarray(counts)
    ordered = np.sort(counts, axis=1)
    top, second = ordered[:, -1], ordered[:, -2]
    unique = top > second
    left = settings.annotators_per_item - np.asarray(answers)
    done = settled(top, second, left, settings)
    tiers = np.select(
        [
            unique & (top >= settings.train_quorum),
            ~done,
            unique & (top >= settings.test_quorum),
            top >= settings.test_quorum,
        ],
        [0, 4, 1, 2],
        default=3,
    )
    labels = np.where((tiers == 0) | (tiers == 1), counts.argmax(axis=1), -1)
    return tiers, labels


def decide(answers: Iterable[str | None], settings: Settings) -> Decision:
    """The tier of one image from its answers (a mood name each, None for a skip)."""
    answers = [None if a is None else moods.get(a).name for a in answers]
    counts = tally([0] * len(answers), answers).counts
    counts = counts if len(counts) else np.zeros((1, len(moods.names())), dtype=np.int64)
    tiers, labels = decide_many(counts, np.array([len(answers)]), settings)
    label = moods.names()[labels[0]] if labels[0] >= 0 else None
    return Decision(TIER_ORDER[tiers[0]], label, int(counts.max()))

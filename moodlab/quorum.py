"""The quorum rules of DESIGN.md: which tier an image's votes put it in.

``decide_many`` is the one implementation (vectorised, for 100,000 images at a
time); ``decide`` applies it to one image. Skips are answers but not votes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from moodlab import moods
from moodlab.config import Settings


class Tier(enum.StrEnum):
    TRAIN = "train"  # a unique top mood with at least train_quorum votes
    TEST = "test"  # a unique top mood with test_quorum .. train_quorum-1 votes, all answers in
    DISPUTED = "disputed"  # a tie at the top with test_quorum or more votes (2-2), all in
    NO_CONSENSUS = "no_consensus"  # all answers in and no mood reached test_quorum
    PENDING = "pending"  # answers are missing and the outcome is still open


TIER_ORDER = (Tier.TRAIN, Tier.TEST, Tier.DISPUTED, Tier.NO_CONSENSUS, Tier.PENDING)


@dataclass(frozen=True)
class Decision:
    tier: Tier
    mood: str | None  # the label, for train and test
    top_votes: int


def decide_many(
    counts: np.ndarray, answers: np.ndarray, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Tiers (indexes into TIER_ORDER) and labels (mood index, -1 for none) per image.

    ``counts``: votes per mood, shape (images, 8), in circle order.
    ``answers``: votes plus skips per image.
    """
    counts = np.asarray(counts)
    ordered = np.sort(counts, axis=1)
    top, second = ordered[:, -1], ordered[:, -2]
    unique = top > second
    complete = np.asarray(answers) >= settings.annotators_per_item
    tiers = np.select(
        [
            unique & (top >= settings.train_quorum),
            ~complete,
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
    answers = list(answers)
    names = moods.names()
    counts = np.zeros((1, len(names)), dtype=np.int64)
    for answer in answers:
        if answer is not None:
            counts[0, moods.get(answer).index] += 1
    tiers, labels = decide_many(counts, np.array([len(answers)]), settings)
    label = names[labels[0]] if labels[0] >= 0 else None
    return Decision(TIER_ORDER[tiers[0]], label, int(counts.max()))

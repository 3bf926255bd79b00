"""Every possible answer pattern of 4 annotators over 8 moods plus skip."""

import itertools
from collections import Counter
from dataclasses import replace

import pytest

from moodlab.core import moods
from moodlab.votes.quorum import Tier, decide

CHOICES = [*moods.names(), None]


def expected(answers, annotators=4, train=3, test=2):
    """docs/architecture.md's quorum rules, written out plainly."""
    counts = Counter(a for a in answers if a is not None).most_common()
    top = counts[0][1] if counts else 0
    unique = len(counts) <= 1 or counts[1][1] < top
    if top >= train and unique:
        return Tier.TRAIN, counts[0][0]
    if len(answers) < annotators:
        return Tier.PENDING, None
    if top >= test and unique:
        return Tier.TEST, counts[0][0]
    if top >= test:
        return Tier.DISPUTED, None
    return Tier.NO_CONSENSUS, None


def test_every_pattern_of_up_to_four_answers(settings):
    seen = Counter()
    for n in range(5):
        for answers in itertools.product(CHOICES, repeat=n):
            decision = decide(answers, settings)
            assert (decision.tier, decision.mood) == expected(answers), answers
            seen[decision.tier] += 1
    assert seen[Tier.TRAIN] and seen[Tier.TEST] and seen[Tier.DISPUTED]
    assert sum(seen.values()) == sum(9**n for n in range(5))


@pytest.mark.parametrize(
    ("answers", "tier", "mood"),
    [
        (["Happy", "Happy", "Happy", "Tired"], Tier.TRAIN, "Happy"),
        (["Happy", "Happy", "Happy"], Tier.TRAIN, "Happy"),  # the 4th cannot change it
        (["Happy", "Happy", "Tired", "Angry"], Tier.TEST, "Happy"),  # 2-1-1
        (["Happy", "Happy", "Tired", None], Tier.TEST, "Happy"),  # 2-1 and a skip
        (["Happy", "Happy", None, None], Tier.TEST, "Happy"),  # 2-0
        (["Happy", "Happy", "Tired"], Tier.PENDING, None),  # a 4th Happy would make it train
        (["Happy", "Happy", "Tired", "Tired"], Tier.DISPUTED, None),  # 2-2
        (["Happy", "Tired", "Angry", None], Tier.NO_CONSENSUS, None),
        ([None, None, None, None], Tier.NO_CONSENSUS, None),
        ([], Tier.PENDING, None),
    ],
)
def test_named_patterns(settings, answers, tier, mood):
    decision = decide(answers, settings)
    assert (decision.tier, decision.mood) == (tier, mood)


def test_other_annotator_counts_and_thresholds(settings):
    six = replace(settings, annotators_per_item=6, train_quorum=4, test_quorum=3)
    assert decide(["Happy"] * 4 + ["Tired"] * 2, six).tier == Tier.TRAIN
    assert decide(["Happy"] * 3 + ["Tired"] * 3, six).tier == Tier.DISPUTED
    assert decide(["Happy"] * 3 + ["Tired", "Angry", None], six).tier == Tier.TEST
    assert decide(["Happy"] * 2 + ["Tired"] * 2 + [None] * 2, six).tier == Tier.NO_CONSENSUS
    for n in range(4):
        for answers in itertools.product(CHOICES, repeat=n):
            assert decide(answers, six).tier == expected(answers, 6, 4, 3)[0]

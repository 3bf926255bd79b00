"""Every possible answer pattern of 4 annotators over 8 moods plus skip."""

import functools
import itertools
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from moodlab.core import moods
from moodlab.votes.quorum import Tier, decide, decide_many, settled

CHOICES = [*moods.names(), None]


def expected(answers, annotators=4, train=3, test=2):
    """docs/architecture.md's quorum rules, written out plainly."""
    counts = Counter(a for a in answers if a is not None).most_common()
    top = counts[0][1] if counts else 0
    unique = len(counts) <= 1 or counts[1][1] < top
    if top >= train and unique:
        return Tier.TRAIN, counts[0][0]
    if len(answers) < annotators:
        certain = outcomes(tuple(sorted(answers, key=str)), annotators, train, test)
        return certain.pop() if len(certain) == 1 else (Tier.PENDING, None)
    if top >= test and unique:
        return Tier.TEST, counts[0][0]
    if top >= test:
        return Tier.DISPUTED, None
    return Tier.NO_CONSENSUS, None


@functools.cache
def outcomes(answers, annotators, train, test):
    """Every outcome all answers could give, trying each way the missing ones could go."""
    if len(answers) == annotators:
        return {expected(answers, annotators, train, test)}
    found = set()
    for more in CHOICES:
        found |= outcomes(tuple(sorted((*answers, more), key=str)), annotators, train, test)
    return found


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
        ([None, None, None], Tier.NO_CONSENSUS, None),  # the 4th answer cannot make 2
        (["Happy", None, None], Tier.PENDING, None),  # a 4th Happy would make it test
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


@pytest.mark.parametrize(
    ("annotators", "train", "test"), [(4, 3, 2), (4, 4, 2), (5, 3, 2), (5, 4, 2), (5, 4, 3)]
)
def test_early_stop_changes_no_tier_over_every_answer_sequence(settings, annotators, train, test):
    """Every sequence of answers (8 moods or a skip each): stopping at the first answer
    after which ``settled`` holds gives the tier and label all answers give, and
    ``settled`` holds as soon as no way the remaining answers could go changes them
    (so early stop saves every answer that could not change a tier, and no other)."""
    rules = replace(settings, annotators_per_item=annotators, train_quorum=train, test_quorum=test)
    n_moods = len(moods.names())
    choices = n_moods + 1  # the last one is a skip
    sequences = np.array(list(itertools.product(range(choices), repeat=annotators)))

    def outcome(prefix_length):
        """(tier, label) as one number per sequence, and settled, after its first answers."""
        prefix = sequences[:, :prefix_length]
        counts = np.stack([(prefix == m).sum(axis=1) for m in range(n_moods)], axis=1)
        tiers, labels = decide_many(counts, np.full(len(prefix), prefix_length), rules)
        ordered = np.sort(counts, axis=1)
        done = settled(ordered[:, -1], ordered[:, -2], annotators - prefix_length, rules)
        return tiers * (n_moods + 1) + labels + 1, np.broadcast_to(done, len(prefix))

    final, _ = outcome(annotators)
    stopped = np.zeros(len(sequences), dtype=bool)
    saved = 0
    for length in range(annotators + 1):
        now, done = outcome(length)
        # Sequences sharing their first ``length`` answers are consecutive blocks.
        blocks = final.reshape(choices**length, -1)
        certain = (blocks.min(axis=1) == blocks.max(axis=1)).repeat(
            choices ** (annotators - length)
        )
        assert np.array_equal(done, certain), f"settled is not exact after {length} answers"
        stop_here = done & ~stopped
        assert np.array_equal(now[stop_here], final[stop_here]), f"a tier changed at {length}"
        saved += int(stop_here.sum()) * (annotators - length)
        stopped |= done
    assert stopped.all()
    if (annotators, train, test) == (4, 3, 2):
        # Only 3 agreeing votes (8 moods) or 3 skips decide before the 4th answer: of the
        # 9^4 sequences, the 9 x 9 that start so save one answer each.
        assert saved == 81

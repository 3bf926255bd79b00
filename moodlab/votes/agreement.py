"""How much the annotators agree: tiers, chance-corrected agreement, per-annotator views.

Everything is computed from one query over the votes (moodlab.votes.arrays),
vectorised with numpy, and cached on the votes' version, so at 100,000 images and
400,000 votes a rerun with no new vote costs one small query. statsmodels computes
Fleiss' kappa; Krippendorff's alpha (nominal, and with a circular distance on the
mood circle) and the pairwise Cohen's kappas are computed here in a few array
operations, and the tests check them against the krippendorff package and
scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from statsmodels.stats.inter_rater import fleiss_kappa

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.models import Image, Role, User
from moodlab.votes import dawid_skene as em
from moodlab.votes.arrays import VersionCache, VoteArrays, load_votes, votes_version
from moodlab.votes.quorum import (
    SKIPPED,
    TIER_ORDER,
    decide_many,
    settled,
    tally,
    tally_indexes,
)


def circular_distance(
    v1: np.ndarray,
    v2: np.ndarray,
    i1: np.ndarray | None,
    i2: np.ndarray | None,
    n_v: np.ndarray | None,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Krippendorff's circular metric on real angles: sin^2 of half the angle between moods.

    Neighbours on the circle (about 45 degrees apart) cost 0.15, opposite moods 1.
    ``v1`` and ``v2`` are the moods' angles in degrees (the alpha's value domain).
    """
    half = np.radians(np.asarray(v1, dtype=dtype) - np.asarray(v2, dtype=dtype)) / 2
    return np.sin(half) ** 2


_REPORTS = VersionCache(size=4)


def agreement_report(
    *, session: Session, actor: Actor, settings: Settings, dawid_skene: bool = True
) -> dict[str, Any]:
    """The statistics over every vote, cached on the votes' version (moodlab.votes.arrays).

    Without ``dawid_skene`` the report has no ``dawid_skene`` entry: the Agreement page
    asks for the estimate (``dawid_skene_estimate``) only while its section is open, as
    its EM over every vote is most of a report's time after a new vote.
    The result is shared between callers (the Agreement page's reruns): do not mutate it.
    """
    require_role(actor, Role.LEAD, action="see the agreement statistics")
    names = dict(session.execute(select(User.id, User.name)).all())
    key = (
        votes_version(session),
        tuple(sorted(names.items())),
        settings.annotators_per_item,
        settings.train_quorum,
        settings.test_quorum,
        dawid_skene,
    )
    return _REPORTS.get(key, lambda: _report(session, names, settings, dawid_skene))


_ESTIMATES = VersionCache(size=4)


def dawid_skene_estimate(*, session: Session, actor: Actor) -> dict[str, Any]:
    """The Dawid-Skene estimate over every vote, as ``agreement_report``'s ``dawid_skene``
    entry, cached on the votes' version. Shared between callers: do not mutate it."""
    require_role(actor, Role.LEAD, action="see the agreement statistics")
    names = dict(session.execute(select(User.id, User.name)).all())
    key = (votes_version(session), tuple(sorted(names.items())))
    return _ESTIMATES.get(key, lambda: _estimate(load_votes(session), names))


def _estimate(votes: VoteArrays, names: dict[int, str]) -> dict[str, Any]:
    answered = tally_indexes(votes.image_ids, votes.mood_idx)
    return em.from_votes(
        answered.items,
        answered.item_of_answer,
        votes.annotator_ids,
        answered.mood_of_answer,
        answered.counts,
        names,
        moods.names(),
    )


def _report(
    session: Session, names: dict[int, str], settings: Settings, with_estimate: bool = True
) -> dict[str, Any]:
    unanswered = (
        session.scalar(select(func.count()).select_from(Image).where(Image.response_count == 0))
        or 0
    )
    votes = load_votes(session)
    return compute_arrays(
        votes, names, settings, unanswered_images=unanswered, dawid_skene=with_estimate
    )


def compute(
    rows: Sequence[tuple[int, int, str | None]],
    names: dict[int, str],
    settings: Settings,
    *,
    unanswered_images: int = 0,
) -> dict[str, Any]:
    """The statistics from (image id, annotator id, mood or None) rows."""
    answered = tally((r[0] for r in rows), [r[2] for r in rows])
    votes = VoteArrays(
        image_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        annotator_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
        mood_idx=answered.mood_of_answer,
    )
    return compute_arrays(votes, names, settings, unanswered_images=unanswered_images)


def compute_arrays(
    votes: VoteArrays,
    names: dict[int, str],
    settings: Settings,
    *,
    unanswered_images: int = 0,
    dawid_skene: bool = True,
) -> dict[str, Any]:
    """The statistics from the votes as arrays (moodlab.votes.arrays.load_votes);
    without ``dawid_skene``, no ``dawid_skene`` entry (``dawid_skene_estimate``)."""
    mood_names = moods.names()
    annotator_ids = votes.annotator_ids
    answered = tally_indexes(votes.image_ids, votes.mood_idx)
    items, item_of_vote = answered.items, answered.item_of_answer
    mood_idx, counts = answered.mood_of_answer, answered.counts
    voted = mood_idx != SKIPPED
    tiers, labels = decide_many(counts, answered.answers, settings)

    ordered = np.sort(counts, axis=1)
    left = settings.annotators_per_item - answered.answers
    early = settled(ordered[:, -1], ordered[:, -2], left, settings) & (left > 0)
    tier_counts = {tier.value: int((tiers == i).sum()) for i, tier in enumerate(TIER_ORDER)}
    tier_counts["pending"] += unanswered_images
    per_tier_mood = np.bincount(
        tiers[labels >= 0] * len(mood_names) + labels[labels >= 0],
        minlength=len(TIER_ORDER) * len(mood_names),
    ).reshape(len(TIER_ORDER), len(mood_names))
    per_mood = {
        name: {"train": int(per_tier_mood[0, m]), "test": int(per_tier_mood[1, m])}
        for m, name in enumerate(mood_names)
    }
    people, person_of_vote = np.unique(annotator_ids, return_inverse=True)
    report = {
        "fleiss_kappa": _fleiss(counts, settings.annotators_per_item),
        "krippendorff_alpha": _alpha(counts, nominal_distances()),
        "circular_alpha": _alpha(counts, circular_distances()),
        "tiers": tier_counts,
        "per_mood": per_mood,
        "annotators": _annotators(item_of_vote, people, person_of_vote, mood_idx, counts, names),
        "annotator_matrix": _pairwise_kappa(item_of_vote, people, person_of_vote, mood_idx, names),
        "confusion": {"moods": mood_names, "counts": _confusion(counts).tolist()},
        "images_with_votes": int(len(items)),
        # Answers the early stop spared: images whose answers so far decide their tier
        # left the queues with these missing (docs/architecture.md, "Early stop").
        "votes_saved": int(left[early].sum()),
        "decided_early": int(early.sum()),
        "votes": int(voted.sum()),
        "skips": int((~voted).sum()),
    }
    if dawid_skene:
        # Beside the tiers, never instead of them (docs/architecture.md, "Agreement statistics").
        report["dawid_skene"] = em.from_votes(
            items, item_of_vote, annotator_ids, mood_idx, counts, names, mood_names
        )
    return report


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _fleiss(counts: np.ndarray, raters: int) -> float | None:
    """Fleiss' kappa over the images with exactly ``raters`` votes (it needs equal raters)."""
    complete = counts[counts.sum(axis=1) == raters]
    if len(complete) < 2:
        return None
    return _finite(fleiss_kappa(complete, method="fleiss"))


def nominal_distances() -> np.ndarray:
    """Squared distances between moods for the nominal alpha: 0 for the same mood, else 1."""
    n = len(moods.names())
    return 1.0 - np.eye(n)


def circular_distances() -> np.ndarray:
    """Squared distances between moods for the circular alpha (``circular_distance``)."""
    angles = np.array([m.angle for m in moods.all_moods()], dtype=np.float64)
    return circular_distance(angles[:, None], angles[None, :], None, None, None)


def _alpha(counts: np.ndarray, distances: np.ndarray) -> float | None:
    """Krippendorff's alpha from per-image vote counts; images with one vote cannot pair.

    The coincidence matrix is summed in one matrix product (Krippendorff 2011,
    "Computing Krippendorff's alpha-reliability"): o_ck = sum_u n_uc (n_uk - [c = k])
    / (m_u - 1). tests/votes/test_agreement.py checks it against the krippendorff package.
    """
    pairable = counts[counts.sum(axis=1) >= 2].astype(np.float64)
    if len(pairable) < 1 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    weight = 1.0 / (pairable.sum(axis=1) - 1)
    weighted = pairable * weight[:, None]
    coincidences = weighted.T @ pairable - np.diag(weighted.sum(axis=0))
    per_value = coincidences.sum(axis=0)
    total = per_value.sum()
    expected = (np.outer(per_value, per_value) * distances).sum()
    if expected == 0:
        return None
    return _finite(1.0 - (total - 1) * (coincidences * distances).sum() / expected)


def _annotators(item_of_vote, people, person_of_vote, mood_idx, counts, names) -> dict[str, dict]:
    """Votes, agreement with the others' majority, and valence/arousal bias per annotator.

    Leave-one-out: an annotator's vote is compared with the majority of the *other*
    votes on the image (when that majority is unique), and with the mean
    valence/arousal point of the other votes, so no one agrees with themselves.
    Sums per annotator are np.bincount over the annotator's index.
    """
    all_moods = moods.all_moods()
    va = np.array([[m.valence, m.arousal] for m in all_moods])
    n_people = len(people)
    voted = mood_idx != SKIPPED
    item, who, mood = item_of_vote[voted], person_of_vote[voted], mood_idx[voted]
    others = counts.astype(np.int8)[item]
    others[np.arange(len(item)), mood] -= 1
    ordered = np.sort(others, axis=1)
    has_majority = (ordered[:, -1] > 0) & (ordered[:, -1] > ordered[:, -2])
    agrees = others.argmax(axis=1) == mood
    # The others' valence/arousal sum per vote: the image's sum less the vote's own
    # (a float product per image, not an integer one per vote).
    n_others = counts.sum(axis=1)[item] - 1
    has_others = n_others > 0
    consensus = ((counts @ va)[item] - va[mood]) / np.maximum(n_others, 1)[:, None]
    bias = va[mood] - consensus

    def per_person(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[mask]
        return np.bincount(who[mask], weights=w, minlength=n_people)

    every = np.ones(len(who), dtype=bool)
    n_votes = per_person(every)
    n_skips = np.bincount(person_of_vote[~voted], minlength=n_people)
    n_judged, n_agree = per_person(has_majority), per_person(has_majority, agrees.astype(float))
    n_placed = per_person(has_others)
    valence, arousal = per_person(has_others, bias[:, 0]), per_person(has_others, bias[:, 1])
    report = {}
    for p, annotator_id in enumerate(people.tolist()):
        placed = n_placed[p] > 0
        report[names.get(int(annotator_id), str(annotator_id))] = {
            "votes": int(n_votes[p]),
            "skips": int(n_skips[p]),
            "agreement_with_majority": _finite(n_agree[p] / n_judged[p]) if n_judged[p] else None,
            "valence_bias": _finite(valence[p] / n_placed[p]) if placed else None,
            "arousal_bias": _finite(arousal[p] / n_placed[p]) if placed else None,
        }
    return report


def pairwise_kappas(
    item_of_vote: np.ndarray, person_of_vote: np.ndarray, mood_idx: np.ndarray, n_moods: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cohen's kappa for every pair of annotators, vectorised: (people with votes, matrix).

    Votes go into one (person, image) table of mood indexes; each pair's confusion
    matrix is one np.bincount over the images both voted on. NaN where a pair shares
    fewer than 2 images or kappa is undefined; 1.0 on the diagonal and where the two
    agree on every shared image (scikit-learn's cohen_kappa_score gives NaN when both
    gave one mood throughout). tests/votes/test_agreement.py checks it against
    scikit-learn.
    """
    voted = mood_idx != SKIPPED
    present, person = np.unique(person_of_vote[voted], return_inverse=True)
    n_items = int(item_of_vote.max()) + 1 if len(item_of_vote) else 0
    table = np.full((len(present), n_items), -1, dtype=np.int16)
    table[person, item_of_vote[voted]] = mood_idx[voted]
    has = table >= 0
    matrix = np.eye(len(present))
    for a in range(len(present)):
        for b in range(a + 1, len(present)):
            both = has[a] & has[b]
            shared = int(both.sum())
            kappa = np.nan
            if shared >= 2:
                pairs = table[a, both].astype(np.int64) * n_moods + table[b, both]
                confusion = np.bincount(pairs, minlength=n_moods * n_moods)
                confusion = confusion.reshape(n_moods, n_moods)
                observed = np.trace(confusion) / shared
                chance = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / shared**2
                if observed == 1.0:
                    kappa = 1.0
                elif chance < 1.0:
                    kappa = (observed - chance) / (1.0 - chance)
            matrix[a, b] = matrix[b, a] = kappa
    return present, matrix


def _pairwise_kappa(item_of_vote, people, person_of_vote, mood_idx, names) -> dict[str, dict]:
    """Cohen's kappa for each pair of annotators over the images both voted on."""
    present, matrix = pairwise_kappas(item_of_vote, person_of_vote, mood_idx, len(moods.names()))
    shown = [names.get(int(a), str(int(a))) for a in people[present]]
    return {a: {b: _finite(matrix[i, j]) for j, b in enumerate(shown)} for i, a in enumerate(shown)}


def _confusion(counts: np.ndarray) -> np.ndarray:
    """How often mood i and mood j were given to one image by two different annotators."""
    return counts.T @ counts - np.diag(counts.sum(axis=0))

"""How much the annotators agree: tiers, chance-corrected agreement, per-annotator views.

Everything is computed from one query over the votes, vectorised with numpy, so
100,000 images and 400,000 votes take a few seconds. Maintained implementations
are used where they exist: statsmodels' Fleiss' kappa, the krippendorff package's
alpha (nominal, and with a circular distance on the mood circle), scikit-learn's
Cohen's kappa for annotator pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from statsmodels.stats.inter_rater import fleiss_kappa

from moodlab.core import moods
from moodlab.core.auth import Actor, require_role
from moodlab.core.config import Settings
from moodlab.core.models import Image, ImageVote, Role, User
from moodlab.votes import dawid_skene
from moodlab.votes.quorum import SKIPPED, TIER_ORDER, decide_many, tally


def circular_distance(
    v1: np.ndarray,
    v2: np.ndarray,
    i1: np.ndarray,
    i2: np.ndarray,
    n_v: np.ndarray,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Krippendorff's circular metric on real angles: sin^2 of half the angle between moods.

    Neighbours on the circle (about 45 degrees apart) cost 0.15, opposite moods 1.
    ``v1`` and ``v2`` are the moods' angles in degrees (the alpha's value domain).
    """
    half = np.radians(np.asarray(v1, dtype=dtype) - np.asarray(v2, dtype=dtype)) / 2
    return np.sin(half) ** 2


def agreement_report(*, session: Session, actor: Actor, settings: Settings) -> dict[str, Any]:
    require_role(actor, Role.LEAD, action="see the agreement statistics")
    rows = session.execute(select(ImageVote.image_id, ImageVote.annotator_id, ImageVote.mood)).all()
    names = dict(session.execute(select(User.id, User.name)).all())
    unanswered = (
        session.scalar(select(func.count()).select_from(Image).where(Image.response_count == 0))
        or 0
    )
    votes = [(image_id, annotator_id, mood) for image_id, annotator_id, mood in rows]
    return compute(votes, names, settings, unanswered_images=unanswered)


def compute(
    rows: Sequence[tuple[int, int, str | None]],
    names: dict[int, str],
    settings: Settings,
    *,
    unanswered_images: int = 0,
) -> dict[str, Any]:
    """The statistics from (image id, annotator id, mood or None) rows."""
    mood_names = moods.names()
    annotator_ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    answered = tally((r[0] for r in rows), [r[2] for r in rows])
    items, item_of_vote = answered.items, answered.item_of_answer
    mood_idx, counts = answered.mood_of_answer, answered.counts
    voted = mood_idx != SKIPPED
    tiers, labels = decide_many(counts, answered.answers, settings)

    tier_counts = {tier.value: int((tiers == i).sum()) for i, tier in enumerate(TIER_ORDER)}
    tier_counts["pending"] += unanswered_images
    per_mood = {
        name: {
            "train": int(((tiers == 0) & (labels == m)).sum()),
            "test": int(((tiers == 1) & (labels == m)).sum()),
        }
        for m, name in enumerate(mood_names)
    }
    return {
        "fleiss_kappa": _fleiss(counts, settings.annotators_per_item),
        "krippendorff_alpha": _alpha(counts, "nominal"),
        "circular_alpha": _alpha(counts, circular_distance),
        "tiers": tier_counts,
        "per_mood": per_mood,
        "annotators": _annotators(item_of_vote, annotator_ids, mood_idx, counts, names),
        "annotator_matrix": _pairwise_kappa(item_of_vote, annotator_ids, mood_idx, names),
        "confusion": {"moods": mood_names, "counts": _confusion(counts).tolist()},
        # Beside the tiers, never instead of them (docs/architecture.md, "Agreement statistics").
        "dawid_skene": dawid_skene.from_votes(
            items, item_of_vote, annotator_ids, mood_idx, counts, names, mood_names
        ),
        "images_with_votes": int(len(items)),
        "votes": int(voted.sum()),
        "skips": int((~voted).sum()),
    }


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _fleiss(counts: np.ndarray, raters: int) -> float | None:
    """Fleiss' kappa over the images with exactly ``raters`` votes (it needs equal raters)."""
    complete = counts[counts.sum(axis=1) == raters]
    if len(complete) < 2:
        return None
    return _finite(fleiss_kappa(complete, method="fleiss"))


def _alpha(counts: np.ndarray, level: krippendorff.LevelOfMeasurement) -> float | None:
    """Krippendorff's alpha from per-image vote counts; images with one vote cannot pair."""
    pairable = counts[counts.sum(axis=1) >= 2]
    if len(pairable) < 1 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    domain = [m.angle for m in moods.all_moods()]
    return _finite(
        krippendorff.alpha(value_counts=pairable, value_domain=domain, level_of_measurement=level)
    )


def _annotators(item_of_vote, annotator_ids, mood_idx, counts, names) -> dict[str, dict]:
    """Votes, agreement with the others' majority, and valence/arousal bias per annotator.

    Leave-one-out: an annotator's vote is compared with the majority of the *other*
    votes on the image (when that majority is unique), and with the mean
    valence/arousal point of the other votes, so no one agrees with themselves.
    """
    all_moods = moods.all_moods()
    va = np.array([[m.valence, m.arousal] for m in all_moods])
    voted = mood_idx != SKIPPED
    item, who, mood = item_of_vote[voted], annotator_ids[voted], mood_idx[voted]
    others = counts[item].copy()
    others[np.arange(len(item)), mood] -= 1
    ordered = np.sort(others, axis=1)
    has_majority = (ordered[:, -1] > 0) & (ordered[:, -1] > ordered[:, -2])
    agrees = others.argmax(axis=1) == mood
    n_others = others.sum(axis=1)
    has_others = n_others > 0
    consensus = (others @ va) / np.maximum(n_others, 1)[:, None]
    bias = va[mood] - consensus
    report = {}
    for annotator_id in np.unique(annotator_ids):
        mine = who == annotator_id
        judged = mine & has_majority
        placed = mine & has_others
        report[names.get(int(annotator_id), str(annotator_id))] = {
            "votes": int(mine.sum()),
            "skips": int(((annotator_ids == annotator_id) & ~voted).sum()),
            "agreement_with_majority": _finite(agrees[judged].mean()) if judged.any() else None,
            "valence_bias": _finite(bias[placed, 0].mean()) if placed.any() else None,
            "arousal_bias": _finite(bias[placed, 1].mean()) if placed.any() else None,
        }
    return report


def _pairwise_kappa(item_of_vote, annotator_ids, mood_idx, names) -> dict[str, dict]:
    """Cohen's kappa for each pair of annotators over the images both voted on."""
    voted = mood_idx != SKIPPED
    people = [int(a) for a in np.unique(annotator_ids[voted])]
    by_person = {}
    for person in people:
        mine = voted & (annotator_ids == person)
        by_person[person] = dict(
            zip(item_of_vote[mine].tolist(), mood_idx[mine].tolist(), strict=True)
        )
    matrix: dict[str, dict] = {}
    for a in people:
        row = matrix.setdefault(names.get(a, str(a)), {})
        for b in people:
            if a == b:
                row[names.get(b, str(b))] = 1.0
                continue
            shared = by_person[a].keys() & by_person[b].keys()
            if len(shared) < 2:
                row[names.get(b, str(b))] = None
                continue
            x = [by_person[a][i] for i in shared]
            y = [by_person[b][i] for i in shared]
            kappa = (
                1.0 if x == y else cohen_kappa_score(x, y, labels=list(range(len(moods.names()))))
            )
            row[names.get(b, str(b))] = _finite(kappa)
    return matrix


def _confusion(counts: np.ndarray) -> np.ndarray:
    """How often mood i and mood j were given to one image by two different annotators."""
    return counts.T @ counts - np.diag(counts.sum(axis=0))

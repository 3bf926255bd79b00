"""Dawid-Skene: each annotator's confusion matrix and each image's posterior mood, by EM.

Dawid and Skene (1979): every annotator j has a confusion matrix pi_j[k, l], the
chance of answering mood l when the true mood is k; the moods have prior p_k.
EM alternates the posterior T[i, k] of each image's true mood (E-step) with the
priors and confusion matrices that make those posteriors most likely (M-step),
starting from the per-image vote shares (the majority's soft version). Skips are
no votes and do not count. A small numpy implementation (docs/architecture.md,
"Agreement statistics", says why not crowd-kit). It sits beside the paper's
tiers, which stay the rule for building data sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Added to every confusion count and prior count: an annotator seen only on a few
# moods keeps a small chance of any answer, and log(0) never happens.
SMOOTHING = 0.01


@dataclass(frozen=True)
class Estimate:
    posterior: np.ndarray  # (items, moods): P(true mood | votes)
    confusion: np.ndarray  # (annotators, moods, moods): rows the true mood, columns the answer
    priors: np.ndarray  # (moods,)
    iterations: int
    converged: bool


def dawid_skene(
    item: np.ndarray,
    annotator: np.ndarray,
    label: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    max_iterations: int = 100,
    tolerance: float = 1e-4,
) -> Estimate:
    """EM over votes given as three equal-length index arrays (item, annotator, label)."""
    item, annotator, label = (np.asarray(a, dtype=np.int64) for a in (item, annotator, label))
    n_votes = len(item)
    ones = np.ones(n_votes)
    # Sparse sums: votes -> their image (E-step), votes -> (annotator, answer) (M-step).
    by_item = sparse.csr_matrix((ones, (item, np.arange(n_votes))), shape=(n_items, n_votes))
    cell = annotator * n_classes + label
    by_cell = sparse.csr_matrix(
        (ones, (cell, np.arange(n_votes))), shape=(n_annotators * n_classes, n_votes)
    )
    # Start: each image's share of votes per mood (an image without votes: uniform).
    posterior = _normalise_rows(by_item @ np.eye(n_classes)[label])
    converged, iterations = False, 0
    confusion = np.full((n_annotators, n_classes, n_classes), 1.0 / n_classes)
    priors = np.full(n_classes, 1.0 / n_classes)
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported after the loop)
        # M-step: priors and confusion matrices from the current posteriors.
        priors = posterior.sum(axis=0) + SMOOTHING
        priors /= priors.sum()
        counts = by_cell @ posterior[item]  # [(j, l), k] = sum of T[i, k] over j's l votes
        confusion = counts.reshape(n_annotators, n_classes, n_classes).transpose(0, 2, 1)
        confusion = _normalise_rows(confusion + SMOOTHING)
        # E-step: log P(k) + sum over the image's votes of log pi_j[k, l].
        log_pi = np.log(confusion)
        log_post = np.log(priors) + by_item @ log_pi[annotator, :, label]
        log_post -= log_post.max(axis=1, keepdims=True) if n_items else 0.0
        new = _normalise_rows(np.exp(log_post))
        change = float(np.abs(new - posterior).max()) if n_items else 0.0
        posterior = new
        if change < tolerance:
            converged = True
            break
    return Estimate(posterior, confusion, priors, iterations, converged)


def _normalise_rows(values: np.ndarray) -> np.ndarray:
    total = values.sum(axis=-1, keepdims=True)
    uniform = np.full_like(values, 1.0 / values.shape[-1])
    return np.divide(values, total, out=uniform, where=total > 0)


def report(
    estimate: Estimate,
    *,
    mood_names: list[str],
    annotator_names: list[str],
    image_ids: list[int],
    majority: np.ndarray,
) -> dict:
    """The JSON of the estimate: per annotator, per image, and how it compares with majority.

    ``majority`` is each image's unique top mood index, or -1 without one.
    """
    top = estimate.posterior.argmax(axis=1) if len(image_ids) else np.zeros(0, dtype=np.int64)
    probability = estimate.posterior.max(axis=1) if len(image_ids) else np.zeros(0)
    decided = majority >= 0
    annotators = {}
    for j, name in enumerate(annotator_names):
        matrix = estimate.confusion[j]
        annotators[name] = {
            # The chance of answering the true mood, weighted by how common each mood is.
            "accuracy": round(float(estimate.priors @ np.diag(matrix)), 4),
            "confusion": [[round(float(p), 4) for p in row] for row in matrix],
        }
    return {
        "moods": mood_names,
        "iterations": estimate.iterations,
        "converged": estimate.converged,
        "priors": {m: round(float(p), 4) for m, p in zip(mood_names, estimate.priors, strict=True)},
        "annotators": annotators,
        "images": [
            {"image_id": image_id, "mood": mood_names[int(k)], "probability": round(float(p), 4)}
            for image_id, k, p in zip(image_ids, top, probability, strict=True)
        ],
        "agrees_with_majority": (
            round(float((top[decided] == majority[decided]).mean()), 4) if decided.any() else None
        ),
    }


def from_votes(
    items: np.ndarray,
    item_of_vote: np.ndarray,
    annotator_ids: np.ndarray,
    mood_idx: np.ndarray,
    counts: np.ndarray,
    names: dict[int, str],
    mood_names: list[str],
) -> dict:
    """The estimate's JSON from the agreement statistics' arrays (skips left out).

    ``items``: the image ids; ``item_of_vote``, ``annotator_ids``, ``mood_idx``: one
    entry per answer (mood -1 for a skip); ``counts``: votes per image and mood.
    """
    voted = mood_idx >= 0
    people, who = np.unique(annotator_ids[voted], return_inverse=True)
    estimate = dawid_skene(
        item_of_vote[voted],
        who,
        mood_idx[voted],
        n_items=len(items),
        n_annotators=len(people),
        n_classes=len(mood_names),
    )
    ordered = np.sort(counts, axis=1)
    unique_top = (ordered[:, -1] > 0) & (ordered[:, -1] > ordered[:, -2])
    majority = np.where(unique_top, counts.argmax(axis=1), -1)
    return report(
        estimate,
        mood_names=mood_names,
        annotator_names=[names.get(int(p), str(int(p))) for p in people],
        image_ids=[int(i) for i in items],
        majority=majority,
    )

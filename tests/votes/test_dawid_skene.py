"""Dawid-Skene EM: it recovers known confusion matrices from votes drawn from them."""

from __future__ import annotations

import numpy as np
import pytest

from moodlab.core import moods
from moodlab.votes.agreement import compute
from moodlab.votes.dawid_skene import dawid_skene

K = 8


def known_confusions() -> np.ndarray:
    """Five annotators, right 90% down to 50% of the time; mistakes lean to the next mood."""
    matrices = []
    for accuracy in (0.9, 0.8, 0.7, 0.6, 0.5):
        matrix = np.full((K, K), (1 - accuracy) * 0.4 / (K - 2))
        for k in range(K):
            matrix[k, k] = accuracy
            matrix[k, (k + 1) % K] = (1 - accuracy) * 0.6
        matrices.append(matrix)
    return np.array(matrices)


def draw_votes(confusion: np.ndarray, n_items: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(K, size=n_items)
    item, who, label = [], [], []
    for i, k in enumerate(truth):
        for j in range(len(confusion)):
            item.append(i)
            who.append(j)
            label.append(rng.choice(K, p=confusion[j, k]))
    return truth, np.array(item), np.array(who), np.array(label)


def test_em_recovers_the_confusion_matrices_it_was_drawn_from():
    confusion = known_confusions()
    truth, item, who, label = draw_votes(confusion, 3000)
    estimate = dawid_skene(item, who, label, n_items=3000, n_annotators=5, n_classes=K)
    assert estimate.converged
    error = np.abs(estimate.confusion - confusion)
    assert error.mean() < 0.01 and error.max() < 0.08
    accuracies = [float(np.diag(m).mean()) for m in estimate.confusion]
    assert accuracies == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5], abs=0.03)
    assert np.abs(estimate.priors - 1 / K).max() < 0.02
    # Weighting annotators by their reliability beats the plain majority.
    counts = np.zeros((3000, K))
    np.add.at(counts, (item, label), 1)
    majority_right = (counts.argmax(axis=1) == truth).mean()
    em_right = (estimate.posterior.argmax(axis=1) == truth).mean()
    assert em_right > majority_right and em_right > 0.95


def test_with_perfect_annotators_it_agrees_with_the_majority():
    perfect = np.array([np.eye(K)] * 4)
    truth, item, who, label = draw_votes(perfect, 200, seed=1)
    estimate = dawid_skene(item, who, label, n_items=200, n_annotators=4, n_classes=K)
    assert (estimate.posterior.argmax(axis=1) == truth).all()
    assert estimate.posterior.max(axis=1).min() > 0.999
    assert np.diag(estimate.confusion.mean(axis=0)).min() > 0.95


def test_the_agreement_report_carries_the_estimate_beside_the_tiers(settings):
    names = {1: "anna", 2: "ben", 3: "cara", 4: "dev"}
    m = moods.names()
    rows = [(10, a, m[0]) for a in (1, 2, 3)] + [(10, 4, m[1])]
    rows += [(11, 1, m[6]), (11, 2, m[6]), (11, 3, None)]
    report = compute(rows, names, settings)
    ds = report["dawid_skene"]
    assert set(ds) >= {
        "moods",
        "iterations",
        "converged",
        "priors",
        "annotators",
        "images",
        "agrees_with_majority",
    }
    assert set(ds["annotators"]) == {"anna", "ben", "cara", "dev"}
    assert np.array(ds["annotators"]["anna"]["confusion"]).shape == (K, K)
    by_image = {row["image_id"]: row for row in ds["images"]}
    assert by_image[10]["mood"] == m[0] and by_image[11]["mood"] == m[6]
    assert ds["agrees_with_majority"] == 1.0
    assert report["tiers"]["train"] == 1  # the paper's rule still decides the sets

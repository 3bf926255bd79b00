"""Out-of-fold review: confident learning's label issues and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from moodlab.training import review


def test_a_confidently_other_image_is_a_label_issue_and_agreeing_ones_are_not():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9],  # the third says mood 1
                      [0.2, 0.8], [0.3, 0.7], [0.45, 0.55]])  # fmt: skip
    issues = review.label_issues(labels, probs)
    assert [(i["index"], i["label"], i["suggested"]) for i in issues] == [(2, 0, 1)]
    assert issues[0]["p_label"] == pytest.approx(0.1)


def test_calibration_error_is_zero_when_confidence_matches_accuracy():
    labels = np.array([0, 0, 0, 1])
    probs = np.array([[0.75, 0.25]] * 4)  # 75% sure of mood 0, right 3 times in 4
    ece, bins = review.calibration(labels, probs)
    assert ece == pytest.approx(0.0)
    assert bins == [{"bin": "0.7-0.8", "confidence": 0.75, "accuracy": 0.75, "images": 4}]
    overconfident, _ = review.calibration(np.array([0, 1]), np.array([[0.95, 0.05]] * 2))
    assert overconfident == pytest.approx(0.45)


def test_a_report_reviews_to_named_moods():
    report = {"out_of_fold": [
        {"image": "a" * 64, "label": 0, "probs": [0.05] + [0.95 / 7] * 6 + [0.95 - 0.95 / 7 * 6]},
        {"image": "b" * 64, "label": 0, "probs": [0.9] + [0.1 / 7] * 7},
    ]}  # fmt: skip
    checked = review.review(report)
    assert checked and checked["images"] == 2
    assert review.review({}) is None

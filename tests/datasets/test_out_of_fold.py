"""Out-of-fold review: cleanlab's label issues and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from moodlab.core import moods
from moodlab.datasets import out_of_fold


def sure(mood: int, p: float) -> list[float]:
    """Eight probabilities, `p` on `mood` and the rest spread evenly."""
    return [p if k == mood else (1 - p) / 7 for k in range(8)]


def test_a_confidently_other_image_is_a_label_issue_and_agreeing_ones_are_not():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array(
        [
            [0.9, 0.1],
            [0.8, 0.2],
            [0.1, 0.9],  # the third says mood 1
            [0.2, 0.8],
            [0.3, 0.7],
            [0.45, 0.55],
        ]
    )
    issues = out_of_fold.label_issues(labels, probs)
    assert [(i["index"], i["label"], i["suggested"]) for i in issues] == [(2, 0, 1)]
    assert issues[0]["p_label"] == pytest.approx(0.1)


def test_flipped_labels_among_eight_moods_with_some_missing_are_found_worst_first():
    # Happy (0), Dynamic (1) and Tired (6) have five images each, the other five moods
    # none. Two labels are flipped: image 2 is labelled Happy but looks Dynamic, image
    # 12 is labelled Tired but looks Happy, less surely.
    labels = np.array([0] * 5 + [1] * 5 + [6] * 5)
    probs = np.array([sure(0, 0.8)] * 5 + [sure(1, 0.75)] * 5 + [sure(6, 0.7)] * 5)
    probs[2], probs[12] = sure(1, 0.9), [0.7, 0.1, 0, 0, 0, 0, 0.2, 0]
    issues = out_of_fold.label_issues(labels, probs)
    assert [(i["index"], i["label"], i["suggested"]) for i in issues] == [(2, 0, 1), (12, 6, 0)]
    assert issues[0]["p_label"] == pytest.approx(0.1 / 7)
    assert issues[1]["p_suggested"] == pytest.approx(0.7)
    names = moods.names()
    absent = f"{names[2]}, {names[3]}, {names[4]}, {names[5]} or {names[7]}"
    assert out_of_fold.note(labels, 8) == (
        f"no training image is labelled {absent}, so no label is disputed in favour of it:"
        " train on more images of every mood"
    )


def test_a_mood_with_one_image_or_one_mood_alone_gives_a_note_not_a_crash(recwarn):
    names = moods.names()
    # Happy's five images and Tired's single one: a Happy image that looks Tired is
    # still found, Tired's only image is not judged.
    labels = np.array([0] * 5 + [6])
    probs = np.array([sure(0, 0.8)] * 4 + [sure(6, 0.9)] + [sure(6, 0.5)])
    assert [i["index"] for i in out_of_fold.label_issues(labels, probs)] == [4]
    assert f"{names[6]} has only one training image, whose label is not reviewed" in (
        out_of_fold.note(labels, 8) or ""
    )
    # One mood alone: cleanlab raises there; the review lists nothing and says why.
    alone = np.array([3, 3, 3])
    assert (
        out_of_fold.label_issues(alone, np.array([sure(3, 0.9), sure(3, 0.9), sure(5, 0.9)])) == []
    )
    assert out_of_fold.note(alone, 8) == (
        f"every training image is labelled {names[3]}: with one mood there is nothing to"
        " dispute a label with"
    )
    assert out_of_fold.note(np.array([0, 0, 1, 1]), 2) is None
    assert not [w for w in recwarn if "May not flag" in str(w.message)]


def test_calibration_error_is_zero_when_confidence_matches_accuracy():
    labels = np.array([0, 0, 0, 1])
    probs = np.array([[0.75, 0.25]] * 4)  # 75% sure of mood 0, right 3 times in 4
    ece, bins = out_of_fold.calibration(labels, probs)
    assert ece == pytest.approx(0.0)
    assert bins == [{"bin": "0.7-0.8", "confidence": 0.75, "accuracy": 0.75, "images": 4}]
    overconfident, _ = out_of_fold.calibration(np.array([0, 1]), np.array([[0.95, 0.05]] * 2))
    assert overconfident == pytest.approx(0.45)


def test_a_report_reviews_to_named_moods(tmp_path):
    names = moods.names()
    rows = [
        {"image": f"{i:064x}", "label": label, "probs": sure(label, 0.8)}
        for i, label in enumerate([0] * 4 + [6] * 4)
    ]
    rows[1]["probs"] = sure(6, 0.9)  # labelled Happy, looks Tired
    checked = out_of_fold.review({"out_of_fold": rows}, tmp_path)
    assert checked and checked["images"] == 8
    [issue] = checked["issues"]
    assert (issue["image"], issue["label"], issue["suggested"]) == (f"{1:064x}", names[0], names[6])
    assert issue["p_label"] == pytest.approx(0.014, abs=1e-3) and len(issue["probs"]) == 8
    assert checked["note"].startswith("no training image is labelled")
    assert out_of_fold.review({}, tmp_path) is None

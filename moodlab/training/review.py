"""What a run's out-of-fold probabilities say: label issues and calibration.

Every training image of a cross-validated run is scored by the fold that did not
train on it (``report["out_of_fold"]``: image sha256, label index, eight
probabilities). From those:

- *Label issues*, a small implementation of confident learning (Northcutt, Jiang and
  Chuang, 2021, the method behind cleanlab's ``find_label_issues``; cleanlab itself
  is not a dependency). Each mood's threshold is the mean probability the model gives
  that mood on the images labelled with it. An image is a suspected issue when some
  *other* mood reaches its own threshold and beats the label's probability (it lands
  off the diagonal of the "confident joint"); the suggested mood is the likeliest
  such one. Issues are ranked by the label's probability, lowest first. Unlike
  cleanlab's default it does not prune to the estimated noise count per class pair.
- *Calibration*: the expected calibration error over 10 equal-width confidence bins
  (the share-weighted gap between mean top probability and accuracy), and the bins
  for a reliability plot. A video's decision averages probabilities, so they should
  mean what they say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from moodlab.core import moods


@dataclass(frozen=True)
class OutOfFold:
    images: list[str]  # sha256
    labels: np.ndarray  # mood indices
    probs: np.ndarray  # (n, moods)

    @classmethod
    def of(cls, report: dict[str, Any] | None) -> OutOfFold | None:
        rows = (report or {}).get("out_of_fold") or []
        if not rows:
            return None
        return cls([r["image"] for r in rows], np.array([r["label"] for r in rows], dtype=int),
                   np.array([r["probs"] for r in rows], dtype=np.float64))  # fmt: skip


def label_issues(labels: np.ndarray, probs: np.ndarray) -> list[dict[str, Any]]:
    """Images whose label the out-of-fold probabilities confidently dispute, worst first:
    index, label, suggested mood (indices), the label's and the suggestion's probability.
    """
    classes = probs.shape[1]
    thresholds = np.full(classes, np.inf)
    for k in range(classes):
        if (labels == k).any():
            thresholds[k] = probs[labels == k, k].mean()
    issues = []
    for i, (label, row) in enumerate(zip(labels, probs, strict=True)):
        confident = [k for k in range(classes)
                     if k != label and row[k] >= thresholds[k] and row[k] > row[label]]  # fmt: skip
        if confident:
            suggested = max(confident, key=lambda k: row[k])
            issues.append({"index": i, "label": int(label), "suggested": int(suggested),
                           "p_label": float(row[label]),
                           "p_suggested": float(row[suggested])})  # fmt: skip
    return sorted(issues, key=lambda issue: issue["p_label"])


def calibration(
    labels: np.ndarray, probs: np.ndarray, bins: int = 10
) -> tuple[float, list[dict[str, Any]]]:
    """Expected calibration error and the reliability bins (confidence, accuracy, count)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        gap = abs(float(confidence[inside].mean()) - float(correct[inside].mean()))
        ece += inside.mean() * gap
        rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                     "confidence": float(confidence[inside].mean()),
                     "accuracy": float(correct[inside].mean()),
                     "images": int(inside.sum())})  # fmt: skip
    return float(ece), rows


def review(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The label review and calibration of a run's report; None without out-of-fold data."""
    oof = OutOfFold.of(report)
    if oof is None:
        return None
    names = moods.names()
    issues = label_issues(oof.labels, oof.probs)
    ece, bins = calibration(oof.labels, oof.probs)
    return {
        "images": len(oof.images), "ece": ece, "reliability": bins,
        "issues": [{"image": oof.images[i["index"]], "label": names[i["label"]],
                    "suggested": names[i["suggested"]], "p_label": round(i["p_label"], 3),
                    "p_suggested": round(i["p_suggested"], 3),
                    "probs": dict(zip(names, np.round(oof.probs[i["index"]], 3).tolist(),
                                      strict=True))} for i in issues],
    }  # fmt: skip

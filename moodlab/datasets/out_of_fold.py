"""What a run's out-of-fold probabilities say: label issues and calibration.

Every training image of a cross-validated run is scored by the fold that did not
train on it (the file ``report["out_of_fold"]`` names, moodlab/core/predictions.py:
image sha256, label index, eight probabilities). From those:

- *Label issues*: cleanlab's ``find_label_issues`` (confident learning, Northcutt,
  Jiang and Chuang, 2021): each mood's threshold is the mean probability the model
  gives that mood on the images labelled with it; the resulting "confident joint"
  estimates how many images of each label are really another mood, and that many
  are flagged (cleanlab's default, prune by noise rate). The issues are ranked by
  the label's probability (self-confidence), lowest first. The suggested mood is the
  likeliest other mood that some image is labelled with. cleanlab never disputes
  the label of a mood's only image and judges no mood that no image carries; the
  review says so in its ``note`` instead of passing on cleanlab's warnings. One mood
  alone gives no issues (cleanlab raises there). cleanlab is imported when a review
  runs, not at start-up.
- *Calibration*: the expected calibration error over 10 equal-width confidence bins
  (the share-weighted gap between mean top probability and accuracy), and the bins
  for a reliability plot. A video's decision averages probabilities, so they should
  mean what they say.

It lives with the datasets, beside the label review that lists the disputed images
(moodlab.datasets.review): it reads a run's report, never the training code, so the
label review imports nothing of training/ (docs/architecture.md, "Layering").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moodlab.core import moods, predictions
from moodlab.core.errors import NotFound


@dataclass(frozen=True)
class OutOfFold:
    images: list[str]  # sha256
    labels: np.ndarray  # mood indices
    probs: np.ndarray  # (n, moods)

    @classmethod
    def of(cls, report: dict[str, Any] | None, data_dir: Path) -> OutOfFold | None:
        """A report's out-of-fold probabilities: from the file beside the model its
        ``out_of_fold`` names, or (models trained before the file) the rows it holds."""
        rows = (report or {}).get("out_of_fold") or []
        if isinstance(rows, dict):
            try:
                kept = predictions.load(data_dir, str(rows.get("file", "")))
            except NotFound:
                return None
            return (
                cls(kept.images, kept.labels, kept.probs.astype(np.float64)) if len(kept) else None
            )
        if not rows:
            return None
        return cls(
            [r["image"] for r in rows],
            np.array([r["label"] for r in rows], dtype=int),
            np.array([r["probs"] for r in rows], dtype=np.float64),
        )


def label_issues(labels: np.ndarray, probs: np.ndarray) -> list[dict[str, Any]]:
    """Images whose label the out-of-fold probabilities confidently dispute, worst first:
    index, label, suggested mood (indices), the label's and the suggestion's probability.
    """
    present = np.unique(labels)
    if len(present) < 2:
        return []  # one mood alone: nothing to dispute it with (see `note`)
    from cleanlab.filter import find_label_issues

    probs = probs / probs.sum(axis=1, keepdims=True)  # float rounding off 1
    with warnings.catch_warnings():
        # A mood with at most one image: said in `note`, not as a warning.
        warnings.filterwarnings("ignore", message="May not flag all label issues")
        found = find_label_issues(
            labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1
        )
    issues = []
    for i in found:
        label, row = int(labels[i]), probs[i]
        others = [k for k in present if k != label]
        suggested = int(max(others, key=lambda k: row[k]))
        issues.append(
            {
                "index": int(i),
                "label": label,
                "suggested": suggested,
                "p_label": float(row[label]),
                "p_suggested": float(row[suggested]),
            }
        )
    return issues


def note(labels: np.ndarray, classes: int) -> str | None:
    """What the label review cannot judge: moods with one training image, or none."""
    names = moods.names()[:classes]
    counts = np.bincount(labels, minlength=classes)
    present = [names[k] for k in range(classes) if counts[k]]
    if len(present) == 1:
        return (
            f"every training image is labelled {present[0]}: with one mood there is"
            " nothing to dispute a label with"
        )
    single = [names[k] for k in range(classes) if counts[k] == 1]
    absent = [names[k] for k in range(classes) if not counts[k]]
    parts = []
    if single:
        parts.append(
            f"{_listed(single)} {'has' if len(single) == 1 else 'have'} only one"
            " training image, whose label is not reviewed"
        )
    if absent:
        parts.append(
            f"no training image is labelled {_listed(absent)}, so no label is"
            " disputed in favour of it"
        )
    return "; ".join(parts) + ": train on more images of every mood" if parts else None


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


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
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "confidence": float(confidence[inside].mean()),
                "accuracy": float(correct[inside].mean()),
                "images": int(inside.sum()),
            }
        )
    return float(ece), rows


# Reviews of out-of-fold files, by file, size and modification time: a model's file never
# changes, and cleanlab over 80,000 images took about a second on every page rerun.
_REVIEWS: dict[tuple[str, int, int], dict[str, Any] | None] = {}
_REVIEWS_KEPT = 8


def review(report: dict[str, Any] | None, data_dir: Path) -> dict[str, Any] | None:
    """The label review and calibration of a run's report; None without out-of-fold data.

    ``note`` says what the review cannot judge (None when it judges every mood).
    """
    entry = (report or {}).get("out_of_fold")
    path = data_dir / str(entry.get("file", "")) if isinstance(entry, dict) else None
    if path is None or not path.is_file():
        return _review(report, data_dir)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _REVIEWS:
        while len(_REVIEWS) >= _REVIEWS_KEPT:
            _REVIEWS.pop(next(iter(_REVIEWS)))
        _REVIEWS[key] = _review(report, data_dir)
    return _REVIEWS[key]


def _review(report: dict[str, Any] | None, data_dir: Path) -> dict[str, Any] | None:
    oof = OutOfFold.of(report, data_dir)
    if oof is None:
        return None
    names = moods.names()
    issues = label_issues(oof.labels, oof.probs)
    ece, bins = calibration(oof.labels, oof.probs)
    return {
        "images": len(oof.images),
        "ece": ece,
        "reliability": bins,
        "note": note(oof.labels, oof.probs.shape[1]),
        "issues": [
            {
                "image": oof.images[i["index"]],
                "label": names[i["label"]],
                "suggested": names[i["suggested"]],
                "p_label": round(i["p_label"], 3),
                "p_suggested": round(i["p_suggested"], 3),
                "probs": dict(zip(names, np.round(oof.probs[i["index"]], 3).tolist(), strict=True)),
            }
            for i in issues
        ],
    }

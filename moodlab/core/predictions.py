"""Per-image predictions kept beside a model, in an .npz file of their own.

A cross-validated run scores every training image with the fold that did not train on
it (out-of-fold probabilities). Kept in the model's ``report`` column (JSON), they were
copied into every fold's job result, the run's result and the report, and every listing
of models loaded them: 3.3 MB of JSON per model at 20,000 images. So each fold writes
its rows to a file, the run joins them into one file beside the model
(``models/NAME.oof.npz``), and the report names the file and counts the images; only
what shows them (the label review, the Training page's out-of-fold section) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodlab.core.storage import atomic_write, file_within

SUFFIX = ".oof.npz"


@dataclass(frozen=True)
class Predictions:
    images: list[str]  # sha256 of each image
    labels: np.ndarray  # mood indices, int
    probs: np.ndarray  # (images, moods), float32

    def __len__(self) -> int:
        return len(self.images)


def save(path: Path, predictions: Predictions) -> None:
    """Write ``predictions`` to ``path`` whole or not at all (temp name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        np.savez(
            handle,
            images=np.array(predictions.images, dtype="U64"),
            labels=np.asarray(predictions.labels, dtype=np.int16),
            probs=np.asarray(predictions.probs, dtype=np.float32),
        )


def load(data_dir: Path, name: str) -> Predictions:
    """The predictions in file ``name`` (relative to the data dir, as reports keep it)."""
    path = file_within(data_dir, data_dir / name)
    with np.load(path, allow_pickle=False) as data:
        return Predictions(
            [str(s) for s in data["images"]], data["labels"].astype(int), data["probs"]
        )


def join(parts: list[Predictions]) -> Predictions:
    """Several folds' predictions as one, in the order given."""
    moods = parts[0].probs.shape[1] if parts else 0
    return Predictions(
        [image for part in parts for image in part.images],
        np.concatenate([part.labels for part in parts]) if parts else np.zeros(0, int),
        np.concatenate([part.probs for part in parts]) if parts else np.zeros((0, moods)),
    )

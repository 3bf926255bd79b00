"""The Training form's two starting points: settings fitted to the snapshot, and the paper's.

The paper's (Cho et al. 2019): the Table 2 CNN at 128 px, 10-fold cross-validation,
60 epochs of batch 64: TrainParams' own defaults, which `moodlab train` keeps. On the
few hundred images a lab has at first they give the deep CNN too few updates to
learn (moodlab.training.budget), so the form starts from ``fitted`` instead: transfer
on the pretrained backbone where its wheel is installed, as many folds as the
smallest mood allows (up to the paper's 10), and enough epochs for about
TARGET_UPDATES updates per fold.
"""

from __future__ import annotations

import math

from moodlab.training import architectures
from moodlab.training.budget import updates
from moodlab.training.runs import TrainParams

# Updates per fold the fitted settings aim at: the deep CNN's measured minimum (400,
# docs/benchmarks.md), which the transfer head reaches its plateau well within.
TARGET_UPDATES = 400
PAPER_FOLDS = 10


def paper(snapshot_id: int) -> TrainParams:
    """The paper's settings, as `moodlab train` defaults to them."""
    return TrainParams(snapshot_id=snapshot_id)


def fitted(snapshot_id: int, train_counts: dict[str, int]) -> TrainParams:
    """Settings that fit a snapshot of these training counts per mood."""
    arch = "transfer" if "transfer" not in architectures.unavailable() else "plain"
    present = [int(n) for n in train_counts.values() if int(n) > 0]
    total, smallest = sum(present), min(present, default=0)
    folds = min(PAPER_FOLDS, smallest) if smallest >= 2 else 0
    per_fold = total - total // folds if folds else total
    batch = 32 if total < 2000 else 64
    per_epoch = max(1, updates(per_fold, batch, 1))
    epochs = min(200, max(10, math.ceil(TARGET_UPDATES / per_epoch)))
    return TrainParams(
        snapshot_id=snapshot_id,
        arch=arch,
        folds=folds,
        epochs=epochs,
        batch_size=batch,
        image_size=architectures.IMAGE_SIZES[arch],
    )

"""What a run can afford: optimizer updates per fold, and whether a snapshot can be folded."""

from __future__ import annotations

import math

from moodlab.core import moods

# The fewest optimizer updates per fold at which each network learnt the separable
# demo pictures (benchmarks/updates.py; docs/benchmarks.md, "Optimizer updates"):
# below it the Training page warns. The deep CNN, with its six dropout layers, needs
# about ten times what the plain one does.
MIN_UPDATES = {"deep": 400, "plain": 24}


def updates(train_images: int, batch_size: int, epochs: int) -> int:
    """Adam steps one fit takes: ceil(images / batch) per epoch, times the epochs."""
    return math.ceil(train_images / batch_size) * epochs if train_images else 0


def updates_warning(arch: str, per_fold: int) -> str | None:
    """A warning when ``per_fold`` is below the measured minimum for ``arch``; else None."""
    minimum = MIN_UPDATES.get(arch)
    if minimum is None or per_fold >= minimum:
        return None
    return (
        f"about {per_fold} optimizer updates per fold: the {arch} CNN needed at least"
        f" {minimum} to learn even separable pictures (docs/benchmarks.md); expect a score"
        " near chance. Use more epochs, a smaller batch, or more images"
    )


def data_problem(train_counts: dict[str, int], folds: int, snapshot_id: int) -> str | None:
    """Why ``folds`` cannot run on a snapshot with these training counts per mood, and
    the fix; None when it can. The start service and the run itself both ask.
    """
    present = {mood: int(n) for mood, n in train_counts.items() if int(n) > 0}
    total = sum(present.values())
    if total == 0:
        return (
            f"snapshot #{snapshot_id} has no training images: freeze a snapshot after more"
            " images reach the train tier (3 of 4 votes)"
        )
    if not folds:
        return None
    order = {name: i for i, name in enumerate(moods.names())}
    smallest = min(present, key=lambda mood: (present[mood], order.get(mood, 99)))
    count = present[smallest]
    if count >= folds:
        return None
    images = "image" if count == 1 else "images"
    fix = f"use at most {count} folds" if count >= 2 else "use 0 folds (no cross-validation)"
    return (
        f"{folds}-fold cross-validation needs at least {folds} training images of every"
        f" mood, and in snapshot #{snapshot_id} the smallest mood, {smallest}, has {count}"
        f" {images}: {fix}, or freeze a snapshot with a larger per-mood cap"
        f" (it has {total} training images in all)"
    )

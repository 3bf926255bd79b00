"""Runs side by side: the paper's CNN, the plain CNN and transfer, for any registered models.

Models compare fairly when they were cross-validated on the same split: the same
snapshot, number of folds and seed give the same stratified folds
(moodlab.training.runs.fold_indices). ``same_split`` says whether the chosen ones were.
"""

from __future__ import annotations

from typing import Any

from moodlab.core import moods
from moodlab.core.models import TrainedModel
from moodlab.training import fine_tune

METRICS = ("cv mean", "test accuracy", "macro-F1", "adjacent accuracy")
# What each architecture is, in the table's words.
DESCRIBED = {
    "deep": "the paper's CNN (Table 2)",
    "plain": "plain CNN",
    "transfer": "transfer (EfficientNet-Lite0)",
}


def split_of(model: TrainedModel) -> tuple[Any, Any, Any]:
    """(snapshot, folds, seed): what decides a run's cross-validation folds."""
    settings = model.report.get("settings", {})
    return model.snapshot_id, settings.get("folds"), settings.get("seed")


def same_split(models: list[TrainedModel]) -> bool:
    return len({split_of(model) for model in models}) <= 1


def default_selection(models: list[TrainedModel]) -> list[int]:
    """The newest model of each architecture on the newest model's snapshot."""
    if not models:
        return []
    newest = max(models, key=lambda m: m.id)
    chosen: dict[str, int] = {}
    for model in sorted(models, key=lambda m: m.id, reverse=True):
        if model.snapshot_id == newest.snapshot_id:
            chosen.setdefault(model.arch, model.id)
    return sorted(chosen.values())


def described(model: TrainedModel) -> str:
    """The architecture in the table's words; a fine-tuned transfer run says how far."""
    blocks = fine_tune.blocks_in(model.report)
    name = DESCRIBED.get(model.arch, model.arch)
    return f"{name}, top {blocks} blocks fine-tuned" if blocks else name


def label(model: TrainedModel) -> str:
    return f"#{model.id} {model.arch}"


def summary_rows(models: list[TrainedModel]) -> list[dict[str, Any]]:
    """One row per model: how it was trained and how well it does."""
    rows = []
    for model in models:
        test = model.report.get("test") or {}
        settings = model.report.get("settings", {})
        rows.append(
            {
                "model": label(model),
                "architecture": described(model),
                "snapshot": model.snapshot_id,
                "parameters": model.params,
                "folds": settings.get("folds"),
                "seed": settings.get("seed"),
                "epochs": settings.get("epochs"),
                "image size": model.image_size,
                "precision": model.precision,
                "cv mean": model.cv_mean,
                "cv std": model.cv_std,
                "test accuracy": test.get("accuracy"),
                "macro-F1": test.get("macro_f1"),
                "adjacent accuracy": test.get("adjacent_accuracy"),
            }
        )
    return rows


def metric_rows(models: list[TrainedModel]) -> list[dict[str, Any]]:
    """Long form (model, metric, value) for a grouped bar chart; missing metrics left out."""
    return [
        {"model": row["model"], "metric": metric, "value": row[metric]}
        for row in summary_rows(models)
        for metric in METRICS
        if row[metric] is not None
    ]


def fold_rows(models: list[TrainedModel]) -> list[dict[str, Any]]:
    """Each model's per-fold validation accuracy, long form."""
    return [
        {"model": label(model), "fold": fold, "accuracy": accuracy}
        for model in models
        # The cv_scores column, in fold order: listings do not load the report's folds.
        for fold, accuracy in enumerate((model.cv_scores or {}).get("scores", []), start=1)
    ]


def recall_rows(models: list[TrainedModel]) -> list[dict[str, Any]]:
    """Per-mood recall on the test set (the confusion matrix's diagonal over its rows)."""
    rows = []
    for model in models:
        matrix = (model.report.get("test") or {}).get("confusion_matrix")
        if not matrix:
            continue
        for name, row, i in zip(moods.names(), matrix, range(len(matrix)), strict=True):
            if sum(row):
                rows.append({"model": label(model), "mood": name, "recall": row[i] / sum(row)})
    return rows

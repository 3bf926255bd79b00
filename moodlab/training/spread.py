"""A training run spread over workers: one job per fold and one for the final model.

The run's own job (kind ``train``) checks the snapshot, queues its parts (``train_fold``
for each fold, ``train_final`` for the final model; moodlab.training.runs does their
work) and then runs queued parts itself while other workers claim the rest, so a run
finishes with one worker, or in `moodlab train` with none, and N workers train N parts
at once. When every part has succeeded it registers the model with every fold's record,
in the result shape a run always had. A part that failed fails the run; a part that was
cancelled cancels it; a run that ends without success stops its parts (the queue does).
A run re-queued after its worker died finds its parts as they were: the finished ones
are kept, the one that died with the worker is re-queued by the usual recovery and
trained again. See docs/architecture.md, "Jobs" and "Training".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from moodlab.core import moods, predictions
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, JobStatus, TrainedModel
from moodlab.jobs.context import JobCancelled, JobContext
from moodlab.training.budget import MIN_UPDATES, updates_warning
from moodlab.training.runs import (
    FinalParams,
    FoldParams,
    TrainParams,
    TrainResult,
    checked_split,
    prepare_features,
)


def run_training(ctx: JobContext, params: TrainParams) -> dict[str, Any]:
    paths, _ = checked_split(ctx, params)
    if params.arch == "transfer" and not ctx.parts():
        prepare_features(ctx, params)  # once, here, rather than in every fold at once
    fields = params.__dict__
    # The final model first: it trains on the most images, and the longest part started
    # first leaves the shortest for the end when workers share the parts.
    parts: list[TrainParams] = [FinalParams(**fields)]
    parts += [FoldParams(**fields, fold=k + 1) for k in range(params.folds)]
    if ctx.add_parts(parts):
        ctx.log(
            f"training {params.arch} on snapshot #{params.snapshot_id}: {len(paths)} images,"
            f" {params.folds} folds and a final model, {params.epochs} epochs each; each is"
            " a job of its own that any worker may take"
        )
    else:
        ctx.log("running again: the parts finished before are kept")
    logged = {f["fold"] for f in TrainResult.from_json(_own_result(ctx)).folds}
    seen: list[tuple[int, str]] = []  # the parts' states last written into the run
    while True:
        done = _collect(ctx, ctx.parts(), params, logged, seen)
        if done is not None:
            return _register(ctx, params, *done)
        if not ctx.run_a_part():  # every queued part is taken: wait for the others
            ctx.wait(ctx.settings.worker_poll_seconds)


def _own_result(ctx: JobContext) -> dict[str, Any]:
    with ctx.database.session() as session:
        return session.scalar(select(Job.result).where(Job.id == ctx.job_id)) or {}


def _label(part: Job) -> str:
    fold = (part.params or {}).get("fold")
    return "the final model" if part.kind == FinalParams.KIND else f"fold {fold}"


def _collect(
    ctx: JobContext,
    parts: list[Job],
    params: TrainParams,
    logged: set[int],
    seen: list[tuple[int, str]],
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The folds' records and the final model's once every part has succeeded; until
    then the finished folds go into the run's result (the page shows them) and None."""
    for part in parts:
        if part.status == JobStatus.FAILED:
            raise MoodlabError(f"{_label(part)} (job {part.id}) failed: {part.error}")
        if part.status == JobStatus.CANCELLED:
            ctx.log(f"{_label(part)} (job {part.id}) was cancelled: {part.message}")
            raise JobCancelled()
    folds = sorted(
        (
            {**part.result, "job": part.id, "worker": part.worker}
            for part in parts
            if part.kind == FoldParams.KIND and part.status == JobStatus.SUCCEEDED and part.result
        ),
        key=lambda record: record["fold"],
    )
    for record in folds:
        if record["fold"] not in logged:
            logged.add(record["fold"])
            ctx.log(
                f"fold {record['fold']} of {params.folds}: validation accuracy"
                f" {record['accuracy']:.3f} after {record['updates']} updates"
                f" (job {record['job']} on {record['worker']})"
            )
    finished = sum(part.status == JobStatus.SUCCEEDED for part in parts)
    running = sum(part.status == JobStatus.RUNNING for part in parts)
    states = [(part.id, part.status) for part in parts]
    if states != seen:  # a part started or ended: the run's result and message follow
        seen[:] = states
        progress = float(np.mean([part.progress for part in parts])) if parts else 0.0
        ctx.progress(
            progress,
            f"{finished} of {len(parts)} parts done, {running} running",
            result={"folds": folds},
            force=True,
        )
    if finished < len(parts):
        return None
    final = next(part.result for part in parts if part.kind == FinalParams.KIND)
    return folds, final or {}


@dataclass(frozen=True)
class Trained:
    """What the parts did: each fold's record, the final model's curve and update count."""

    folds: list[dict[str, Any]]
    final_history: list[dict[str, float]]
    final_updates: int
    train_images: int

    def updates_report(self, arch: str) -> dict[str, Any]:
        per_fold = [f["updates"] for f in self.folds if f.get("updates") is not None]
        mean = round(float(np.mean(per_fold))) if per_fold else None
        shown = mean if mean is not None else self.final_updates
        return {
            "per_fold": per_fold,
            "per_fold_mean": mean,
            "final": self.final_updates,
            "train_images": self.train_images,
            "minimum": MIN_UPDATES.get(arch),
            "warning": updates_warning(arch, shown),
        }


def _join_out_of_fold(
    settings: Settings, fold_records: list[dict[str, Any]], model_path: Path
) -> dict[str, Any] | None:
    """The folds' out-of-fold files joined into one beside the model: the report's entry.

    Run again after the join (the run re-run once its model is registered), the parts
    are gone and the joined file is kept as it is.
    """
    names = [(fold.get("out_of_fold") or {}).get("file") for fold in fold_records]
    if not fold_records or not all(names):
        return None
    joined = model_path.with_suffix(predictions.SUFFIX)
    parts = [settings.data_dir / str(name) for name in names]
    if all(part.is_file() for part in parts):
        whole = predictions.join([predictions.load(settings.data_dir, str(n)) for n in names])
        predictions.save(settings.data_dir / joined, whole)
        for part in parts:
            part.unlink()
    count = sum(int((fold.get("out_of_fold") or {}).get("images", 0)) for fold in fold_records)
    return {"file": str(joined), "images": count}


def _register(
    ctx: JobContext, params: TrainParams, fold_records: list[dict[str, Any]], final: dict[str, Any]
) -> dict[str, Any]:
    """The run's model in the registry (once, should the run be re-run after this), and
    the run's result."""
    trained = Trained(
        fold_records, final.get("final_history", []), final["final_updates"], final["train_images"]
    )
    scores = [f["accuracy"] for f in fold_records]
    test = final.get("test")
    cv_mean = float(np.mean(scores)) if scores else None
    cv_std = float(np.std(scores)) if scores else None
    out_of_fold = _join_out_of_fold(ctx.settings, fold_records, Path(final["path"]))
    folds = [{k: v for k, v in fold.items() if k != "out_of_fold"} for fold in fold_records]
    update_counts = trained.updates_report(params.arch)
    report: dict[str, Any] = {
        "folds": folds,
        "final_history": trained.final_history,
        "test": test,
        "versions": final.get("versions"),
        "settings": {**params.__dict__},
        "moods": moods.names(),
        "updates": update_counts,
        "out_of_fold": out_of_fold,  # names the file: moodlab/core/predictions.py
    }
    if final.get("backbone"):  # transfer: which backbone, its weights' hash, its input size
        report["backbone"] = final["backbone"]
    with ctx.database.session() as session:
        entry = session.scalars(select(TrainedModel).where(TrainedModel.job_id == ctx.job_id))
        model_id = next((m.id for m in entry), None)
        if model_id is None:
            model = TrainedModel(
                arch=params.arch,
                path=str(Path(final["path"])),
                snapshot_id=params.snapshot_id,
                job_id=ctx.job_id,
                params=final["params"],
                image_size=params.image_size,
                precision=final["precision"],
                cv_scores={"scores": scores},
                cv_mean=cv_mean,
                cv_std=cv_std,
                test_accuracy=test["accuracy"] if test else None,
                report=report,
            )
            session.add(model)
            session.flush()
            model_id = model.id
    record = {
        "model_id": model_id,
        "arch": params.arch,
        "params": final["params"],
        "cv_scores": scores,
        "cv_mean": cv_mean,
        "cv_std": cv_std,
        "test_accuracy": test["accuracy"] if test else None,
        "adjacent_accuracy": test["adjacent_accuracy"] if test else None,
        "macro_f1": test["macro_f1"] if test else None,
        "confusion_matrix": test["confusion_matrix"] if test else None,
        "moods": moods.names(),
        "precision": final["precision"],
        "folds": folds,
        "updates_per_fold": update_counts["per_fold_mean"],
        "final_updates": trained.final_updates,
        "updates_warning": update_counts["warning"],
    }
    ctx.log(f"done: model #{model_id}; {TrainResult.from_json(record).summary()}")
    return record

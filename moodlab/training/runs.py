"""A training run as a job: stratified k-fold CV, then a final model, evaluated and saved.

Each fold's score is written into the job's result when the fold ends; a job
that is re-queued after its worker died starts again at the next fold.
"""

from __future__ import annotations

import os
import platform
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from moodlab.core import moods
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Job, TrainedModel
from moodlab.core.storage import ContentStore
from moodlab.datasets.snapshots import get_snapshot, members_of
from moodlab.images.intake import thumbnail_path
from moodlab.jobs.context import JobContext, JobParams, JobResult
from moodlab.training import architectures
from moodlab.training.budget import MIN_UPDATES, data_problem, updates, updates_warning
from moodlab.training.pipeline import dataset
from moodlab.training.precision import apply_policy, choose_policy


@dataclass
class TrainParams(JobParams):
    snapshot_id: int
    arch: str = "deep"
    folds: int = 10  # the paper's Table 3
    epochs: int = 60
    batch_size: int = 64
    image_size: int = 128
    seed: int = 0
    augment: bool = False  # off, as in the paper

    KIND = "train"

    def validate(self, settings: Settings) -> None:
        if self.arch not in architectures.ARCHITECTURES:
            architectures.build(self.arch)  # raises the clear error
        if self.arch in architectures.unavailable(settings.transfer_weights):
            architectures.build(self.arch, transfer_weights_file=settings.transfer_weights)
        if self.folds < 0 or self.folds == 1:
            raise MoodlabError(
                f"{self.folds} folds cannot cross-validate: use 2 or more folds, or 0 folds"
                " to skip cross-validation and train one model on all the training images"
            )
        for name in ("epochs", "batch_size", "image_size"):
            if getattr(self, name) < 1:
                raise MoodlabError(f"{name.replace('_', ' ')} must be at least 1")


def estimated_updates(train_images: int, params: TrainParams) -> int:
    """Updates per fold before a run: a fold trains on all but about 1/k of the images
    (the final model, and a run with 0 folds, on all of them)."""
    per_fold = train_images - train_images // params.folds if params.folds else train_images
    return updates(per_fold, params.batch_size, params.epochs)


@dataclass(frozen=True)
class TrainResult(JobResult):
    """A training run's result: its finished folds while it runs, then its report."""

    folds: list[dict[str, Any]] = field(default_factory=list)  # fold, accuracy, updates, history
    model_id: int | None = None
    arch: str | None = None
    cv_mean: float | None = None
    cv_std: float | None = None
    test_accuracy: float | None = None
    updates_per_fold: int | None = None  # the mean over the folds, rounded
    final_updates: int | None = None

    def summary(self) -> str:
        parts = []
        if self.cv_mean is not None:
            parts.append(f"CV mean {self.cv_mean:.2f}")
        elif self.folds:
            parts.append(f"{len(self.folds)} fold{'s' if len(self.folds) != 1 else ''} done")
        if self.test_accuracy is not None:
            parts.append(f"test {self.test_accuracy:.2f}")
        if self.model_id is not None:
            parts.append(f"model #{self.model_id}" + (f" ({self.arch})" if self.arch else ""))
        return ", ".join(parts)


def _split(
    settings: Settings, snapshot_id: int, split: str, database: Database, actor: Actor
) -> tuple[list[str], np.ndarray]:
    store = ContentStore(settings.data_dir)
    index = {name: i for i, name in enumerate(moods.names())}
    with database.session() as session:
        get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
        members = members_of(session=session, actor=actor, snapshot_id=snapshot_id)
        members = [m for m in members if m.split == split]
    paths = [str(thumbnail_path(store, m.sha256)) for m in members]
    return paths, np.array([index[m.label] for m in members], dtype=np.int32)


def _progress_callback(
    ctx: JobContext, label: str, done_before: int, total_epochs: int, epochs: int
) -> Any:
    """A Keras callback: progress per epoch into the job, cancel checked after every batch.

    Its ``history`` holds each epoch's logs (Keras is imported here, not at start-up).
    """
    import keras

    history: list[dict[str, float]] = []

    def on_epoch_end(epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        history.append(logs)
        ctx.progress(
            (done_before + epoch + 1) / total_epochs,
            f"{label}, epoch {epoch + 1} of {epochs}: loss"
            f" {logs.get('loss', 0):.3f}, accuracy {logs.get('accuracy', 0):.3f}",
        )

    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs=None: ctx.check_cancelled(),
        on_epoch_end=on_epoch_end,
    )
    callback.history = history
    return callback


def compiled(model: Any) -> Any:  # a keras.Model (Keras has no type hints)
    """The model ready to train: Adam (learning rate 1e-3) on sparse cross-entropy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _fit(
    params: TrainParams,
    train: tuple[list[str], np.ndarray],
    epochs: int,
    callback: Any,
    cache_dir: Path,
    tag: str,
    settings: Settings,
) -> Any:
    import keras

    keras.utils.set_random_seed(params.seed)
    model = compiled(
        architectures.build(
            params.arch, params.image_size, transfer_weights_file=settings.transfer_weights
        )
    )
    data = dataset(train[0], train[1], image_size=params.image_size, batch_size=params.batch_size,
                   shuffle=True, seed=params.seed, cache_file=cache_dir / tag,
                   augment=params.augment)  # fmt: skip
    # The data set shuffles itself (seeded); Keras' own shuffle does not apply to tf.data.
    model.fit(data, epochs=epochs, verbose=0, callbacks=[callback], shuffle=False)
    return model


def _probabilities(
    model: Any, paths: list[str], labels: np.ndarray, params: TrainParams
) -> np.ndarray:
    data = dataset(paths, labels, image_size=params.image_size, batch_size=params.batch_size,
                   shuffle=False, seed=params.seed)  # fmt: skip
    return np.asarray(model.predict(data, verbose=0), dtype=np.float64)


def _predict(model: Any, paths: list[str], labels: np.ndarray, params: TrainParams) -> np.ndarray:
    return _probabilities(model, paths, labels, params).argmax(axis=1)


def evaluate(predicted: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, adjacent accuracy (true mood or a circle neighbour), confusion."""
    from sklearn.metrics import confusion_matrix, f1_score

    names = moods.names()
    steps = np.array([[moods.circle_steps(a, b) for b in names] for a in names])
    return {
        "accuracy": float((predicted == truth).mean()),
        "macro_f1": float(
            f1_score(truth, predicted, labels=range(len(names)), average="macro", zero_division=0)
        ),  # fmt: skip
        "adjacent_accuracy": float((steps[truth, predicted] <= 1).mean()),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=range(len(names))).tolist(),
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy", "scikit-learn"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def train(ctx: JobContext, params: TrainParams, settings: Settings) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    params.validate(settings)
    database = ctx.database
    precision = apply_policy(choose_policy(settings.precision))
    paths, labels = _split(settings, params.snapshot_id, "train", database, ctx.actor)
    counts = np.bincount(labels, minlength=len(moods.names()))
    problem = data_problem(
        dict(zip(moods.names(), counts.tolist(), strict=True)), params.folds, params.snapshot_id
    )
    if problem:  # start_training refuses these; this guards a job queued some other way
        raise MoodlabError(problem)
    saved = _saved_folds(database, ctx.job_id)
    folds = []
    if params.folds:
        splitter = StratifiedKFold(params.folds, shuffle=True, random_state=params.seed)
        folds = list(splitter.split(np.zeros(len(labels)), labels))
    total_epochs = params.epochs * (len(folds) + 1)
    scores: list[float] = [f["accuracy"] for f in saved]
    ctx.log(
        f"training {params.arch} on snapshot #{params.snapshot_id}: {len(paths)} images,"
        f" {len(folds)} folds, {params.epochs} epochs each, precision {precision}"
    )
    with tempfile.TemporaryDirectory(prefix="moodlab-train-") as cache:
        cache_dir = Path(cache)
        for k, (train_idx, val_idx) in enumerate(folds):
            if k < len(saved):
                continue  # finished before a restart
            label = f"fold {k + 1} of {len(folds)}"
            callback = _progress_callback(
                ctx, label, k * params.epochs, total_epochs, params.epochs
            )
            train_set = ([paths[i] for i in train_idx], labels[train_idx])
            model = _fit(
                params, train_set, params.epochs, callback, cache_dir, f"fold{k}", settings
            )
            val_paths = [paths[i] for i in val_idx]
            probs = _probabilities(model, val_paths, labels[val_idx], params)
            accuracy = float((probs.argmax(axis=1) == labels[val_idx]).mean())
            # Out-of-fold probabilities: each training image scored by the fold that did
            # not train on it (the label review and calibration read them).
            out_of_fold = [{"image": Path(path).stem, "label": int(label),
                            "probs": [round(float(p), 4) for p in row]}
                           for path, label, row in zip(val_paths, labels[val_idx], probs,
                                                       strict=True)]  # fmt: skip
            scores.append(accuracy)
            steps = updates(len(train_idx), params.batch_size, params.epochs)
            saved.append({"fold": k + 1, "accuracy": accuracy, "updates": steps,
                          "history": callback.history,
                          "out_of_fold": out_of_fold})  # fmt: skip
            done = (k + 1) * params.epochs / total_epochs
            message = f"{label}: accuracy {accuracy:.3f}"
            ctx.progress(done, message, result={"folds": saved}, force=True)
            ctx.log(f"{label}: validation accuracy {accuracy:.3f} after {steps} updates")
        ctx.log(f"final model on all {len(paths)} training images")
        callback = _progress_callback(
            ctx, "final model", len(folds) * params.epochs, total_epochs, params.epochs
        )
        model = _fit(params, (paths, labels), params.epochs, callback, cache_dir, "final", settings)
    final_updates = updates(len(paths), params.batch_size, params.epochs)
    test_paths, test_labels = _split(settings, params.snapshot_id, "test", database, ctx.actor)
    test = (
        evaluate(_predict(model, test_paths, test_labels, params), test_labels)
        if test_paths
        else None
    )
    ctx.log(f"final model: {final_updates} updates")
    trained = Trained(saved, callback.history, final_updates, len(paths))
    record = _register(ctx, params, settings, model, scores, test, trained, precision)
    ctx.log(f"done: model #{record['model_id']}; {TrainResult.from_json(record).summary()}")
    return record


def _saved_folds(database: Database, job_id: int) -> list[dict[str, Any]]:
    with database.session() as session:
        result = session.scalar(select(Job.result).where(Job.id == job_id)) or {}
    return list(result.get("folds", []))


@dataclass(frozen=True)
class Trained:
    """What the fits did: each fold's record, the final model's curve and update count."""

    folds: list[dict[str, Any]]
    final_history: list[dict[str, float]]
    final_updates: int
    train_images: int

    def updates_report(self, arch: str) -> dict[str, Any]:
        per_fold = [f["updates"] for f in self.folds if f.get("updates") is not None]
        mean = round(float(np.mean(per_fold))) if per_fold else None
        shown = mean if mean is not None else self.final_updates
        return {"per_fold": per_fold, "per_fold_mean": mean, "final": self.final_updates,
                "train_images": self.train_images, "minimum": MIN_UPDATES.get(arch),
                "warning": updates_warning(arch, shown)}  # fmt: skip


def _register(
    ctx: JobContext,
    params: TrainParams,
    settings: Settings,
    model: Any,
    scores: list[float],
    test: dict[str, Any] | None,
    trained: Trained,
    precision: str,
) -> dict[str, Any]:
    models_dir = settings.data_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    name = f"{params.arch}-snapshot{params.snapshot_id}-job{ctx.job_id}.keras"
    # Keras wants the .keras suffix: save beside the target, then rename into place.
    temporary = models_dir / f".{name}.tmp.keras"
    model.save(temporary)
    os.replace(temporary, models_dir / name)
    cv_mean = float(np.mean(scores)) if scores else None
    cv_std = float(np.std(scores)) if scores else None
    out_of_fold = [row for fold in trained.folds for row in fold.get("out_of_fold", [])]
    folds = [{k: v for k, v in fold.items() if k != "out_of_fold"} for fold in trained.folds]
    update_counts = trained.updates_report(params.arch)
    report: dict[str, Any] = {
        "folds": folds, "final_history": trained.final_history, "test": test,
        "versions": versions(), "settings": {**params.__dict__}, "moods": moods.names(),
        "updates": update_counts,
        "out_of_fold": out_of_fold,
    }  # fmt: skip
    if params.arch == "transfer":
        report["backbone_weights"] = str(architectures.transfer_weights(settings.transfer_weights))
    with ctx.database.session() as session:
        entry = TrainedModel(
            arch=params.arch, path=str(Path("models") / name), snapshot_id=params.snapshot_id,
            job_id=ctx.job_id, params=int(model.count_params()), image_size=params.image_size,
            precision=precision, cv_scores={"scores": scores}, cv_mean=cv_mean, cv_std=cv_std,
            test_accuracy=test["accuracy"] if test else None, report=report,
        )  # fmt: skip
        session.add(entry)
        session.flush()
        model_id = entry.id
    return {
        "model_id": model_id, "arch": params.arch, "params": int(model.count_params()),
        "cv_scores": scores, "cv_mean": cv_mean, "cv_std": cv_std,
        "test_accuracy": test["accuracy"] if test else None,
        "adjacent_accuracy": test["adjacent_accuracy"] if test else None,
        "macro_f1": test["macro_f1"] if test else None,
        "confusion_matrix": test["confusion_matrix"] if test else None,
        "moods": moods.names(), "precision": precision, "folds": folds,
        "updates_per_fold": update_counts["per_fold_mean"], "final_updates": trained.final_updates,
        "updates_warning": update_counts["warning"],
    }  # fmt: skip


def run_training(ctx: JobContext, params: TrainParams) -> dict[str, Any]:
    return train(ctx, params, ctx.settings)

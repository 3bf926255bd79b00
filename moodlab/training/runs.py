"""A training run's params and result, and the work of its parts: one fold, the final model.

A run (moodlab.training.spread) is one job whose folds and final model are jobs of
their own, claimed by any worker: ``run_fold`` trains fold k of the stratified k-fold
split and scores the images it held out; ``run_final`` trains on every training image,
evaluates on the test set and saves the model file. Both read everything from the
snapshot, so a part runs the same on any worker.
"""

from __future__ import annotations

import platform
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from moodlab.core import moods, predictions
from moodlab.core.auth import Actor
from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Role
from moodlab.core.storage import ContentStore, atomic_path
from moodlab.datasets.snapshots import get_snapshot, members_of
from moodlab.images.intake import thumbnail_path
from moodlab.jobs.context import JobContext, JobParams, JobResult
from moodlab.training import architectures, backbone, features, fine_tune, kept_models, lite0
from moodlab.training.budget import data_problem, updates
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
    # transfer only: after the head, train the backbone's last N blocks too (slow on a
    # CPU; moodlab.training.fine_tune). 0 keeps the backbone frozen.
    fine_tune_blocks: int = 0
    fine_tune_epochs: int = fine_tune.EPOCHS

    KIND = "train"
    TITLE = "training run"
    ROLE = Role.LEAD
    QUEUE = "training"
    # A run waits for its parts, which may wait for a free GPU box: days, not hours.
    TIME_LIMIT_S = 3 * 86_400.0

    def validate(self, settings: Settings) -> None:
        if self.arch not in architectures.ARCHITECTURES:
            architectures.build(self.arch)  # raises the clear error
        if reason := architectures.unavailable().get(self.arch):
            raise MoodlabError(reason)
        size = architectures.IMAGE_SIZES["transfer"]
        if self.arch == "transfer" and self.image_size != size:
            raise MoodlabError(
                f"the transfer architecture works at {size} px, the size its backbone was"
                f" pretrained at, not {self.image_size}: use image size {size}"
            )
        if self.folds < 0 or self.folds == 1:
            raise MoodlabError(
                f"{self.folds} folds cannot cross-validate: use 2 or more folds, or 0 folds"
                " to skip cross-validation and train one model on all the training images"
            )
        for name in ("epochs", "batch_size", "image_size"):
            if getattr(self, name) < 1:
                raise MoodlabError(f"{name.replace('_', ' ')} must be at least 1")
        fine_tune.check_blocks(self.fine_tune_blocks, self.arch)
        if self.fine_tune_blocks and self.fine_tune_epochs < 1:
            raise MoodlabError(
                f"fine-tune epochs must be at least 1 to fine-tune {self.fine_tune_blocks}"
                f" blocks, not {self.fine_tune_epochs}"
            )


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


def epochs_per_call(updates_per_epoch: int, epochs: int) -> int:
    """Epochs (passes over the data) that one Keras epoch runs: the fewest that divide
    ``epochs`` and give at least MIN_UPDATES_PER_CALL updates, else all of them.

    Keras spends some 20 ms starting and ending each of its epochs; a small snapshot's
    epochs of a few updates each are grouped (the demo's 100 epochs of 8 updates ran in
    6.2 s as 10 Keras epochs of 10 passes, 8.2 s as 100).
    """
    for group in range(1, epochs + 1):
        if epochs % group == 0 and group * updates_per_epoch >= MIN_UPDATES_PER_CALL:
            return group
    return max(1, epochs)


def _progress_callback(
    ctx: JobContext, label: str, epochs: int, group: int, *, before: int = 0
) -> Any:
    """A Keras callback: progress into the job after each Keras epoch (``group`` epochs
    of the run), cancel checked between calls into TensorFlow (every
    STEPS_PER_EXECUTION updates).

    Its ``history`` holds the logs of each Keras epoch, with the run's epoch it ended
    on as "epoch", after ``before`` epochs of an earlier fit (fine-tuning follows the
    head's epochs). Keras is imported here, not at start-up.
    """
    import keras

    history: list[dict[str, float]] = []

    def on_epoch_end(call: int, logs: dict[str, Any] | None = None) -> None:
        epoch = (call + 1) * group
        logs = {k: float(v) for k, v in (logs or {}).items()}
        history.append({"epoch": before + epoch, **logs})
        ctx.progress(
            epoch / epochs,
            f"{label}, epoch {epoch} of {epochs}: loss"
            f" {logs.get('loss', 0):.3f}, accuracy {logs.get('accuracy', 0):.3f}",
        )

    callback = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs=None: ctx.check_cancelled(),
        on_epoch_end=on_epoch_end,
    )
    callback.history = history
    return callback


# Updates per call into TensorFlow; callbacks (progress, cancel) run between calls.
STEPS_PER_EXECUTION = 8
# The fewest updates one Keras epoch should run (``epochs_per_call``).
MIN_UPDATES_PER_CALL = 64


def compiled(model: Any, learning_rate: float = 1e-3) -> Any:  # a keras.Model
    """The model ready to train: Adam (learning rate 1e-3) on sparse cross-entropy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # Several updates per call into TensorFlow: the same updates, less Python between
        # them (a 16 px Table 2 update took 15.6 ms one at a time, 11.9 ms eight at a time).
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def _fit(
    ctx: JobContext,
    params: TrainParams,
    train: tuple[list[str], np.ndarray],
    label: str,
    cache_dir: Path,
) -> tuple[Any, list[dict[str, float]]]:
    """The trained model and its history (``_progress_callback``)."""
    import keras

    group = epochs_per_call(updates(len(train[0]), params.batch_size, 1), params.epochs)
    callback = _progress_callback(ctx, label, params.epochs, group)
    keras.utils.set_random_seed(params.seed)
    if params.arch == "transfer":
        head, history = _fit_head(ctx, params, train, callback, group)
        if not params.fine_tune_blocks:
            return head, history
        model, tuned = _fine_tune(ctx, params, train, head, label, cache_dir)
        return model, history + tuned
    built = architectures.build(params.arch, params.image_size)
    # the process's compiled model of this shape, started as ``built``: no second trace
    model = kept_models.model_for_fit(built, params.arch, params.image_size, compiled)
    data = dataset(
        train[0],
        train[1],
        image_size=params.image_size,
        batch_size=params.batch_size,
        shuffle=True,
        seed=params.seed,
        cache_file=cache_dir / "data",
        augment=params.augment,
    )
    # The data set shuffles itself (seeded), every pass; Keras' own shuffle does not
    # apply to tf.data.
    model.fit(
        data.repeat(group),
        epochs=params.epochs // group,
        verbose=0,
        callbacks=[callback],
        shuffle=False,
    )
    return model, callback.history


def _kept_features(
    settings: Settings, paths: list[str], label: str, ctx: JobContext | None = None
) -> np.ndarray:
    """The backbone features of the images at ``paths`` (thumbnails named by sha256),
    made first where missing (moodlab.training.features)."""

    def on_batch(done: int, total: int) -> None:
        if ctx is not None:
            ctx.log(f"{label}: backbone features of {done} of {total} images made")
            ctx.check_cancelled()

    return features.load(settings, [Path(p).stem for p in paths], on_batch=on_batch)


def prepare_features(ctx: JobContext, params: TrainParams) -> None:
    """Make the backbone features the snapshot's images lack, with the run's progress."""
    paths = [
        path
        for split in ("train", "test")
        for path in _split(ctx.settings, params.snapshot_id, split, ctx.database, ctx.actor)[0]
    ]

    def on_batch(done: int, total: int) -> None:
        ctx.progress(0.0, f"backbone features: {done} of {total} images")

    features.compute(ctx.settings, [Path(p).stem for p in paths], on_batch=on_batch)


def _fit_head(
    ctx: JobContext,
    params: TrainParams,
    train: tuple[list[str], np.ndarray],
    callback: Any,
    group: int,
) -> tuple[Any, list[dict[str, float]]]:
    """Transfer: the small head trained on the images' kept backbone features (the
    backbone stays frozen, so running it once per image is all it needs)."""
    import tensorflow as tf

    rows = _kept_features(ctx.settings, train[0], "training images", ctx)
    # The process's compiled head, started as a new one: its train step is traced once,
    # not once a fold (1.2 s a fit instead of 2.9 on 2,880 images' features).
    head = kept_models.model_for_fit(
        architectures.transfer_head(), "transfer_head", lite0.FEATURES, compiled
    )
    data = (
        tf.data.Dataset.from_tensor_slices((rows, train[1].astype("int32")))
        .shuffle(len(rows), seed=params.seed, reshuffle_each_iteration=True)
        .batch(params.batch_size)
    )
    head.fit(
        data.repeat(group),
        epochs=params.epochs // group,
        verbose=0,
        callbacks=[callback],
        shuffle=False,
    )
    return head, callback.history


def _fine_tune(
    ctx: JobContext,
    params: TrainParams,
    train: tuple[list[str], np.ndarray],
    head: Any,
    label: str,
    cache_dir: Path,
) -> tuple[Any, list[dict[str, float]]]:
    """Transfer, after its head: the backbone's top blocks and the head trained end to
    end on the images at 224 px (moodlab.training.fine_tune); the whole model."""
    blocks, epochs = params.fine_tune_blocks, params.fine_tune_epochs
    shas = [Path(p).stem for p in train[0]]

    def on_image(done: int, total: int) -> None:
        if done % 64 == 0 or done == total:
            ctx.progress(
                done / total, f"{label}, fine-tuning: {done} of {total} images read at 224 px"
            )
            ctx.check_cancelled()

    pixels = fine_tune.read_pixels(ctx.settings, shas, cache_dir / "pixels.npy", on_image=on_image)
    built = fine_tune.model(head, blocks, params.image_size)
    # As for the CNNs, one compiled model a process for each number of blocks: its train
    # step, through the whole backbone, is traced once, not once a fold.
    model = kept_models.model_for_fit(
        built,
        f"transfer-fine-tune-{blocks}",
        params.image_size,
        lambda fresh: compiled(fresh, fine_tune.LEARNING_RATE),
    )
    ctx.log(
        f"{label}: fine-tuning the last {blocks} of {lite0.BLOCKS} backbone blocks,"
        f" {epochs} epochs at learning rate {fine_tune.LEARNING_RATE:g}"
    )
    tuned_label = f"{label}, fine-tuning {blocks} blocks"
    callback = _progress_callback(ctx, tuned_label, epochs, 1, before=params.epochs)
    data = fine_tune.image_data(pixels, train[1], batch_size=params.batch_size, seed=params.seed)
    model.fit(data, epochs=epochs, verbose=0, callbacks=[callback], shuffle=False)
    return model, callback.history


def _probabilities(
    model: Any,
    paths: list[str],
    labels: np.ndarray,
    params: TrainParams,
    settings: Settings,
    ctx: JobContext | None = None,
) -> np.ndarray:
    """The model's probabilities for each image, in order; a transfer model's from the
    images' kept features (through its head: a saved model's ``transfer_head`` layer).

    The batches go through the model eagerly: ``model.predict`` traces a graph first,
    about 0.6 s a fit, more than a fold's few hundred held-out images take to score.
    """
    if params.arch == "transfer" and params.fine_tune_blocks:
        shas = [Path(p).stem for p in paths]
        return fine_tune.probabilities(model, settings, shas, params.batch_size)
    if params.arch == "transfer":
        if not paths:
            return np.zeros((0, len(moods.names())))
        head = model if len(model.input_shape) == 2 else model.get_layer("transfer_head")
        rows = _kept_features(settings, paths, "held-out images", ctx)
        return np.asarray(head(rows, training=False), dtype=np.float64)
    data = dataset(
        paths,
        labels,
        image_size=params.image_size,
        batch_size=params.batch_size,
        shuffle=False,
        seed=params.seed,
    )
    batches = [np.asarray(model(images, training=False), np.float64) for images, _ in data]
    return np.concatenate(batches) if batches else np.zeros((0, len(moods.names())))


def _predict(
    model: Any,
    paths: list[str],
    labels: np.ndarray,
    params: TrainParams,
    settings: Settings,
    ctx: JobContext | None = None,
) -> np.ndarray:
    return _probabilities(model, paths, labels, params, settings, ctx).argmax(axis=1)


def evaluate(predicted: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1, adjacent accuracy (true mood or a circle neighbour), confusion."""
    from sklearn.metrics import confusion_matrix, f1_score

    names = moods.names()
    steps = np.array([[moods.circle_steps(a, b) for b in names] for a in names])
    return {
        "accuracy": float((predicted == truth).mean()),
        "macro_f1": float(
            f1_score(truth, predicted, labels=range(len(names)), average="macro", zero_division=0)
        ),
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


@dataclass
class FoldParams(TrainParams):
    """Fold ``fold`` (1-based) of a run's k-fold split: a part of the run's job."""

    fold: int = 1

    KIND = "train_fold"
    TITLE = "training fold"
    ROLE = Role.LEAD
    TIME_LIMIT_S = 12 * 3600.0  # one network on one GPU: a paper-sized fold takes about an hour

    def validate(self, settings: Settings) -> None:
        super().validate(settings)
        if not 1 <= self.fold <= self.folds:
            raise MoodlabError(f"fold {self.fold} is not one of the run's {self.folds} folds")


@dataclass
class FinalParams(TrainParams):
    """The final model of a run, trained on all its training images: a part of its job."""

    KIND = "train_final"
    TITLE = "final model training"
    ROLE = Role.LEAD
    TIME_LIMIT_S = 12 * 3600.0  # one network on one GPU: a paper-sized fold takes about an hour


@dataclass(frozen=True)
class PartResult(JobResult):
    """A fold's record (fold, accuracy, updates, history, out_of_fold), or the final
    model's (path, test, final_history, final_updates, params, precision)."""

    fold: int | None = None
    accuracy: float | None = None
    updates: int | None = None
    test: dict[str, Any] | None = None
    final_updates: int | None = None

    def summary(self) -> str:
        if self.fold is not None and self.accuracy is not None:
            return f"fold {self.fold}: accuracy {self.accuracy:.2f} after {self.updates} updates"
        if self.final_updates is not None:
            tested = f", test {self.test['accuracy']:.2f}" if self.test else ""
            return f"final model: {self.final_updates} updates{tested}"
        return ""


def checked_split(ctx: JobContext, params: TrainParams) -> tuple[list[str], np.ndarray]:
    """The run's training images (thumbnail paths, mood indices), its params checked."""
    settings = ctx.settings
    params.validate(settings)
    paths, labels = _split(settings, params.snapshot_id, "train", ctx.database, ctx.actor)
    counts = np.bincount(labels, minlength=len(moods.names()))
    problem = data_problem(
        dict(zip(moods.names(), counts.tolist(), strict=True)), params.folds, params.snapshot_id
    )
    if problem:  # start_training refuses these; this guards a job queued some other way
        raise MoodlabError(problem)
    return paths, labels


def fold_indices(labels: np.ndarray, params: TrainParams) -> list[tuple[np.ndarray, np.ndarray]]:
    """The run's stratified k-fold split: the same on every worker (seeded)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(params.folds, shuffle=True, random_state=params.seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def run_fold(ctx: JobContext, params: FoldParams) -> dict[str, Any]:
    """Train one fold and score the images it held out: the fold's record."""
    paths, labels = checked_split(ctx, params)
    precision = apply_policy(choose_policy(ctx.settings.precision, ctx.settings.training_threads))
    train_idx, val_idx = fold_indices(labels, params)[params.fold - 1]
    label = f"fold {params.fold} of {params.folds}"
    ctx.log(
        f"{label}: {params.arch} on {len(train_idx)} images, {params.epochs} epochs,"
        f" precision {precision}"
    )
    train_set = ([paths[i] for i in train_idx], labels[train_idx])
    with tempfile.TemporaryDirectory(prefix="moodlab-train-") as cache:
        model, history = _fit(ctx, params, train_set, label, Path(cache))
    val_paths = [paths[i] for i in val_idx]
    probs = _probabilities(model, val_paths, labels[val_idx], params, ctx.settings, ctx)
    accuracy = float((probs.argmax(axis=1) == labels[val_idx]).mean())
    # Out-of-fold probabilities: each training image scored by the fold that did not
    # train on it (the label review and calibration read them). A file of the fold's
    # own, which the run joins beside the model: the record only names it
    # (moodlab/core/predictions.py says why).
    out_of_fold = fold_predictions_file(params, ctx.job_id)
    predictions.save(
        ctx.settings.data_dir / out_of_fold,
        predictions.Predictions([Path(path).stem for path in val_paths], labels[val_idx], probs),
    )
    steps = updates(len(train_idx), params.batch_size, params.epochs)
    ctx.log(f"{label}: validation accuracy {accuracy:.3f} after {steps} updates")
    return {
        "fold": params.fold,
        "accuracy": accuracy,
        "updates": steps,
        "history": history,
        "precision": precision,
        "out_of_fold": {"file": str(out_of_fold), "images": len(val_paths)},
    }


def fold_predictions_file(params: FoldParams, job_id: int | None) -> Path:
    """Where fold job ``job_id`` keeps its out-of-fold probabilities, under the data dir."""
    name = f"{params.arch}-snapshot{params.snapshot_id}-fold{params.fold}-job{job_id}"
    return Path("models") / "folds" / f"{name}{predictions.SUFFIX}"


def model_file(params: TrainParams, run_id: int) -> Path:
    """Where run ``run_id``'s model is kept, under the data dir."""
    return Path("models") / f"{params.arch}-snapshot{params.snapshot_id}-job{run_id}.keras"


def run_final(ctx: JobContext, params: FinalParams) -> dict[str, Any]:
    """Train on every training image, evaluate on the test set, save the model file."""
    settings = ctx.settings
    paths, labels = checked_split(ctx, params)
    precision = apply_policy(choose_policy(settings.precision, settings.training_threads))
    ctx.log(
        f"final model: {params.arch} on all {len(paths)} training images,"
        f" {params.epochs} epochs, precision {precision}"
    )
    with tempfile.TemporaryDirectory(prefix="moodlab-train-") as cache:
        model, history = _fit(ctx, params, (paths, labels), "final model", Path(cache))
    final_updates = updates(len(paths), params.batch_size, params.epochs)
    test_paths, test_labels = _split(settings, params.snapshot_id, "test", ctx.database, ctx.actor)
    test = (
        evaluate(_predict(model, test_paths, test_labels, params, settings, ctx), test_labels)
        if test_paths
        else None
    )
    if params.arch == "transfer" and not params.fine_tune_blocks:
        # the saved model takes images: the frozen backbone, then the head (a fine-tuned
        # model is whole already)
        model = architectures.transfer(params.image_size, head=model)
    path = model_file(params, ctx.parent_id or ctx.job_id)
    # A temp name beside the target that keeps the .keras suffix Keras wants; fsynced,
    # renamed, and the folder fsynced (docs/architecture.md, "File durability").
    with atomic_path(settings.data_dir / path) as temporary:
        model.save(temporary)
    ctx.log(
        f"final model: {final_updates} updates"
        + (f", test accuracy {test['accuracy']:.3f}" if test else ", no test set")
    )
    return {
        "path": str(path),
        "test": test,
        "final_history": history,
        "final_updates": final_updates,
        "train_images": len(paths),
        "params": int(model.count_params()),
        "precision": precision,
        "versions": versions(),
        **({"backbone": transfer_record(params)} if params.arch == "transfer" else {}),
    }


def transfer_record(params: TrainParams) -> dict[str, Any]:
    """What a transfer run records about its backbone: name, weights hash, input size,
    source, and whether (and how) its top blocks were fine-tuned."""
    return {
        **backbone.describe(),
        **fine_tune.describe(params.fine_tune_blocks, params.fine_tune_epochs),
    }

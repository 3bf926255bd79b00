"""bfloat16 against float32 on the same separable data (issue 15, item 7).

The dtype policy (moodlab.training.precision) picks mixed_bfloat16 on CPUs with
bfloat16 instructions. Here both policies train the project's plain CNN, built and
compiled as a run builds it, from the same seed on the same tiny pictures, with
enough optimizer updates to learn them; their accuracies on 200 held-out pictures
must be within 0.05 of each other. Each must also be well above chance (0.125), so
two models that learnt nothing cannot pass by agreeing. Where the CPU lacks
AVX512-BF16 the bfloat16 arithmetic is emulated: slower, not different.
"""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from moodlab.core import moods
from moodlab.training import architectures
from moodlab.training.budget import updates
from moodlab.training.precision import apply_policy
from moodlab.training.runs import compiled

SIZE, TRAIN_PER_MOOD, TEST_PER_MOOD, BATCH, EPOCHS = 16, 12, 25, 16, 25


def pictures(per_mood: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each mood a pale hue with its own faint stripes under heavy noise; pixels in [0, 1].

    Hard enough that neither policy is perfect (float32 0.96, bfloat16 0.97 here), so
    a precision that learns worse would show.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    images, labels = [], []
    for k in range(len(moods.names())):
        base = np.array(colorsys.hsv_to_rgb(k / 8, 0.3, 0.7))
        stripes = np.sin((x + y * (k % 3)) * (0.4 + 0.15 * k))[..., None] * 0.12
        for _ in range(per_mood):
            noise = rng.normal(0, 0.35, (SIZE, SIZE, 3))
            images.append(np.clip(base + stripes + noise, 0, 1))
            labels.append(k)
    return np.array(images, dtype="float32"), np.array(labels, dtype="int32")


def accuracy_under(policy: str) -> tuple[float, str]:
    """Test accuracy of the plain CNN trained under ``policy``, and its convolutions' dtype."""
    import keras

    train_x, train_y = pictures(TRAIN_PER_MOOD, seed=1)
    test_x, test_y = pictures(TEST_PER_MOOD, seed=2)
    apply_policy(policy)
    keras.utils.set_random_seed(0)
    model = compiled(architectures.build("plain", SIZE))
    model.fit(train_x, train_y, batch_size=BATCH, epochs=EPOCHS, verbose=0, shuffle=True)
    predicted = model.predict(test_x, batch_size=100, verbose=0).argmax(axis=1)
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    return float((predicted == test_y).mean()), conv.compute_dtype


def test_mixed_bfloat16_learns_what_float32_learns_within_0_05():
    import keras

    assert updates(TRAIN_PER_MOOD * 8, BATCH, EPOCHS) == 150  # the plain CNN's minimum is 24
    try:
        scores = {policy: accuracy_under(policy) for policy in ("float32", "mixed_bfloat16")}
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    (f32, f32_dtype), (bf16, bf16_dtype) = scores["float32"], scores["mixed_bfloat16"]
    assert (f32_dtype, bf16_dtype) == ("float32", "bfloat16")  # really two precisions
    assert min(f32, bf16) >= 0.85, scores  # both learnt (chance is 0.125)
    assert abs(f32 - bf16) <= 0.05, scores


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_the_probabilities_stay_float32_under_either_policy(policy):
    import keras

    try:
        apply_policy(policy)
        model = architectures.build("plain", SIZE)
        out = model.predict(pictures(1, seed=3)[0], verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)

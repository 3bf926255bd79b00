"""The input pipeline: tf.data over the 128x128 thumbnails in the content store.

Files are read and decoded as the model asks for them, cached as uint8 in a file
on disk (not in memory, so memory does not grow with the data set), shuffled,
batched, scaled to [0, 1] and prefetched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def dataset(
    paths: list[str],
    labels: np.ndarray,
    *,
    image_size: int,
    batch_size: int,
    shuffle: bool,
    seed: int,
    cache_file: Path | None = None,
    augment: bool = False,
):
    import tensorflow as tf

    def load(path, label):
        image = tf.io.decode_png(tf.io.read_file(path), channels=3)
        if image_size != 128:  # thumbnails are square already: a plain resize keeps the rule
            image = tf.cast(
                tf.image.resize(image, (image_size, image_size), antialias=True), tf.uint8
            )
        return image, label

    data = tf.data.Dataset.from_tensor_slices((list(paths), labels.astype("int32")))
    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    data = data.cache(str(cache_file)) if cache_file else data
    if shuffle:
        data = data.shuffle(min(len(paths), 4096), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)

    def scale(images, labels):
        images = tf.cast(images, tf.float32) / 255.0
        if augment:
            images = tf.image.random_flip_left_right(images, seed=seed)
        return images, labels

    return data.map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from tests.conftest import run_in_mode


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_random_crop_flip_is_a_seeded_shift_and_mirror(mode):
    image = tf.reshape(tf.range(1, 8 * 8 + 1, dtype=tf.int32), (8, 8, 1))
    seed = tf.constant([5, 0], tf.int64)
    out = run_in_mode(lambda: kq.data.random_crop_flip(image, seed, padding=2), mode).numpy()
    np.testing.assert_array_equal(out, kq.data.random_crop_flip(image, seed, padding=2))
    padded = np.pad(image.numpy(), [(2, 2), (2, 2), (0, 0)])
    windows = [padded[dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
    assert any(np.array_equal(out, w) or np.array_equal(out[:, ::-1], w) for w in windows)


def test_random_crop_flip_reaches_every_shift_and_both_orientations():
    image = tf.reshape(tf.range(1, 8 * 8 + 1, dtype=tf.int32), (8, 8, 1))
    outs = [
        kq.data.random_crop_flip(image, tf.constant([s, 0]), padding=2).numpy() for s in range(600)
    ]
    assert len({o.tobytes() for o in outs}) == 5 * 5 * 2


def test_random_crop_flip_without_padding_or_flip_is_the_identity():
    image = tf.random.uniform((4, 4, 3), seed=1)
    out = kq.data.random_crop_flip(image, tf.constant([1, 2]), padding=0, flip=False)
    np.testing.assert_array_equal(out, image)


def test_random_crop_flip_validates():
    with pytest.raises(
        ValueError,
        match=r"^Expected one image of rank 3 \(height, width, channels\). Received: "
        r"image.shape=\(2, 4, 4, 3\)$",
    ):
        kq.data.random_crop_flip(tf.zeros((2, 4, 4, 3)), tf.constant([0, 0]))
    with pytest.raises(
        ValueError, match="^Expected `flip` to be True or False. Received: flip='no'$"
    ):
        kq.data.random_crop_flip(tf.zeros((4, 4, 3)), tf.constant([0, 0]), flip="no")
    with pytest.raises(
        ValueError, match="^Expected `padding` to be an integer >= 0. Received: padding=-1$"
    ):
        kq.data.random_crop_flip(tf.zeros((4, 4, 3)), tf.constant([0, 0]), padding=-1)

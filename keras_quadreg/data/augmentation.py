"""Seeded data augmentation for 32x32 natural images and digits."""

import tensorflow as tf

from keras_quadreg import _validation


def random_crop_flip(image, seed, padding=4, flip=True):
    """Random crop after zero padding, then a random horizontal flip.

    The standard CIFAR-10 augmentation (padding 4), as stateless TensorFlow
    ops: the same `seed` gives the same result, in eager, graph or tf.data
    code.

    Example:

    ```python
    augmented = kq.data.random_crop_flip(image, seed=tf.constant([7, 0]))
    ```

    Args:
        image: One image `(height, width, channels)`, any dtype.
        seed: Shape `(2,)` integer tensor, as for `tf.random.stateless_*` ops.
        padding: Zero pixels added on each side before cropping back to
            the original size, so shifts are at most `padding` pixels.
        flip: Whether to flip left-right with probability 1/2 (not for
            digits, whose mirror images are other shapes).

    Returns:
        The augmented image, same shape and dtype.
    """
    padding = _validation.integer("padding", padding)
    flip = _validation.boolean("flip", flip)
    image = tf.convert_to_tensor(image)
    if image.shape.rank != 3:
        raise ValueError(
            f"Expected one image of rank 3 (height, width, channels). "
            f"Received: image.shape={image.shape}"
        )
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = tf.image.stateless_random_crop(padded, tf.shape(image), seed=crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image

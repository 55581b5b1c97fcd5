"""Per-example reductions over every axis but the batch axis.

Shared by the functional core, the regularizers, the attacks and the
callbacks: every one of them reduces perturbations example by example.
"""

import tensorflow as tf


def _feature_axes(x):
    return list(range(1, x.shape.rank))


def dot(a, b):
    """Per-example inner product `<a_i, b_i>`, shape `[batch]`."""
    return tf.reduce_sum(a * b, axis=_feature_axes(a))


def l2_norm(v):
    """Per-example Euclidean norm, shape `[batch]`."""
    return tf.sqrt(dot(v, v))


def l1_norm(v):
    return tf.reduce_sum(tf.abs(v), axis=_feature_axes(v))


def linf_norm(v):
    return tf.reduce_max(tf.abs(v), axis=_feature_axes(v))


def all_finite(x):
    """Per-example: whether every entry is finite, shape `[batch]`."""
    return tf.reduce_all(tf.math.is_finite(x), axis=_feature_axes(x))


def broadcast(per_example, like):
    """Reshapes a `[batch]` tensor so it broadcasts against `like`."""
    shape = tf.concat([tf.shape(per_example), tf.ones([like.shape.rank - 1], tf.int32)], 0)
    return tf.reshape(per_example, shape)


def safe_unit(v):
    """`v / ||v||_2` per example; zero where `v` is zero."""
    norm = broadcast(l2_norm(v), v)
    return tf.math.divide_no_nan(v, norm)

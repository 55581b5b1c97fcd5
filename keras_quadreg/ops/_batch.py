"""Per-example reductions over every axis but the batch axis."""

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
    shape = tf.concat(
        [tf.shape(per_example), tf.ones([like.shape.rank - 1], tf.int32)], 0
    )
    return tf.reshape(per_example, shape)


def safe_unit(v):
    """`v / ||v||_2` per example; zero where `v` is zero."""
    norm = broadcast(l2_norm(v), v)
    return tf.math.divide_no_nan(v, norm)


def per_example_losses(loss_fn, x):
    """Calls `loss_fn(x)` and checks it returns one loss per example.

    `loss_fn` may return `losses` or `(losses, aux)`; this returns the pair
    `(losses, aux)` with `aux=None` in the first case.
    """
    out = loss_fn(x)
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(
                "Expected `loss_fn` to return per-example losses or a pair "
                f"`(losses, aux)`. Received: a sequence of length {len(out)}"
            )
        losses, aux = out
    else:
        losses, aux = out, None
    losses = tf.convert_to_tensor(losses)
    if losses.shape.rank != 1 or (
        losses.shape[0] is not None
        and x.shape[0] is not None
        and losses.shape[0] != x.shape[0]
    ):
        raise ValueError(
            "Expected `loss_fn` to return one loss per example, a tensor of "
            f"shape (batch,) = ({x.shape[0]},). Received: losses.shape="
            f"{tuple(losses.shape)}"
        )
    if not losses.dtype.is_floating:
        raise ValueError(
            "Expected `loss_fn` to return floating-point losses. "
            f"Received: losses.dtype={losses.dtype.name}"
        )
    return losses, aux


def check_inputs(x, name="x"):
    """Converts `x` to a tensor and checks it is a floating-point batch."""
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(
            f"Expected `{name}` to be a floating-point tensor: derivatives are "
            f"taken with respect to it. Received: {name}.dtype={x.dtype.name}"
        )
    if x.shape.rank is not None and x.shape.rank < 2:
        raise ValueError(
            f"Expected `{name}` to be a batch with shape (batch, ...), rank "
            f">= 2. Received: {name}.shape={tuple(x.shape)}"
        )
    return x

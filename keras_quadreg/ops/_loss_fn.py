"""The contract of the functional core's `loss_fn` and inputs."""

import tensorflow as tf


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
        losses.shape[0] is not None and x.shape[0] is not None and losses.shape[0] != x.shape[0]
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

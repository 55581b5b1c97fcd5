"""Input gradients of per-example losses."""

import tensorflow as tf

from keras_quadreg.ops import _loss_fn

_ZERO = tf.UnconnectedGradients.ZERO


def input_gradient(loss_fn, x, *, has_aux=False):
    """Per-example losses and their gradients with respect to the inputs.

    Example:

    ```python
    losses, g = kq.ops.input_gradient(
        lambda x: loss(y, model(x)), x)
    ```

    Args:
        loss_fn: Callable mapping `x` to per-example losses `(batch,)`, or to
            a pair `(losses, aux)` when `has_aux=True`.
        x: Floating-point batch of inputs.
        has_aux: Whether `loss_fn` also returns auxiliary outputs.

    Returns:
        `(losses, gradient)`, or `(losses, gradient, aux)` with `has_aux`.
    """
    x = _loss_fn.check_inputs(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        losses, aux = _loss_fn.per_example_losses(loss_fn, x)
        total = tf.reduce_sum(losses)
    gradient = tape.gradient(total, x, unconnected_gradients=_ZERO)
    return (losses, gradient, aux) if has_aux else (losses, gradient)

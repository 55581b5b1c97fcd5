"""Hessian-vector products of per-example losses (input gradients: `gradients`).

Every function takes `loss_fn`, a callable mapping a batch of inputs `x` of
shape `(batch, ...)` to per-example losses of shape `(batch,)`. Examples are
assumed independent, so differentiating the sum of the losses gives every
example's own gradient and Hessian-vector product in one pass.
"""

import tensorflow as tf

from keras_quadreg import _batch, _deprecation, _validation
from keras_quadreg.ops import _loss_fn, gradients

HVP_METHODS = ("reverse_over_reverse", "forward_over_reverse", "finite_difference", "secant")

_ZERO = tf.UnconnectedGradients.ZERO
HVP_SHAPE_MISMATCH = "Expected `v` to have the shape of `x`. Received: v.shape ="


def check_hvp_method(method, name="method"):
    return _validation.choice(name, method, HVP_METHODS)


def recorded_gradient(loss_fn, x):
    """Evaluates `loss_fn` once under a persistent tape that keeps `x`'s
    gradient differentiable, for reverse-over-reverse products.

    Returns `(losses, aux, gradient, tape)`: `tape.gradient(gradient, x,
    output_gradients=v)` is then `H v` for any `v` without another forward
    pass.
    """
    outer = tf.GradientTape(persistent=True)
    with outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            losses, aux = _loss_fn.per_example_losses(loss_fn, x)
            total = tf.reduce_sum(losses)
        gradient = inner.gradient(total, x, unconnected_gradients=_ZERO)
    return losses, aux, gradient, outer


def reverse_over_reverse(tape, gradient, x, v):
    """`H v` as the vector-Jacobian product of a recorded gradient."""
    return tape.gradient(gradient, x, output_gradients=v, unconnected_gradients=_ZERO)


def forward_over_reverse(loss_fn, x, v):
    """`H v` as the forward-mode derivative of the gradient along `v`."""
    with tf.autodiff.ForwardAccumulator(primals=x, tangents=v) as accumulator:
        _, gradient = gradients.input_gradient(loss_fn, x)
    return accumulator.jvp(gradient, unconnected_gradients=_ZERO)


def finite_difference(loss_fn, x, v, gradient, step):
    """`H v ~= ||v|| (grad(x + h u) - grad(x)) / h` with `u = v / ||v||`.

    Normalizing the direction makes `step` a distance in input space, so one
    value suits perturbations of any size; the error is `O(step * ||v||)`.
    """
    norm = _batch.broadcast(_batch.l2_norm(v), v)
    _, shifted = gradients.input_gradient(loss_fn, x + step * tf.math.divide_no_nan(v, norm))
    return (shifted - gradient) * (norm / step)


def secant(loss_fn, x, v, gradient):
    """`H v ~= grad(x + v) - grad(x)`: the finite difference at the scale of `v`.

    Exact for a quadratic loss. For a perturbation `v` as large as the
    threat ball, it is the curvature the loss actually has across the ball
    rather than at `x` (small for ReLU networks): with it, `g + H v` is the
    true gradient at `x + v`, and `q(v) = (g + grad(x + v)).v / 2`, the
    trapezoid estimate of `l(x + v) - l(x)`.
    """
    _, shifted = gradients.input_gradient(loss_fn, x + v)
    return shifted - gradient


def hvp(loss_fn, x, v, *, method="reverse_over_reverse", finite_difference_step=1e-3):
    """Per-example Hessian-vector products of the loss with respect to inputs.

    Computes `H_i v_i` for every example `i`, where `H_i` is the Hessian of
    the `i`-th loss with respect to its input `x_i`.

    Example:

    ```python
    hv = kq.ops.hvp(lambda x: loss(y, model(x)), x, v, method="forward_over_reverse")
    ```

    Args:
        loss_fn: Callable mapping `x` to per-example losses `(batch,)`.
        x: Floating-point batch of inputs, `(batch, ...)`.
        v: Directions, same shape as `x`.
        method: `"reverse_over_reverse"` (nested `GradientTape`s),
            `"forward_over_reverse"` (`tf.autodiff.ForwardAccumulator` over a
            tape), `"finite_difference"` (a step of length
            `finite_difference_step` along `v`) or `"secant"` (the step `v`
            itself: `grad(x + v) - grad(x)`).
        finite_difference_step: Input-space distance `h` used by
            `"finite_difference"`.

    Returns:
        A tensor shaped like `x`.
    """
    method = check_hvp_method(method)
    step = _validation.positive_number("finite_difference_step", finite_difference_step)
    x = _loss_fn.check_inputs(x)
    if tf.is_tensor(v) and v.dtype != x.dtype:  # arrays and lists are converted
        raise ValueError(
            f"Expected `v` to have the dtype of `x`, {x.dtype.name}. "
            f"Received: v.dtype={v.dtype.name}"
        )
    v = tf.convert_to_tensor(v, dtype=x.dtype)
    if not v.shape.is_compatible_with(x.shape):
        raise ValueError(
            "Expected `v` to have the shape of `x`, "
            f"{tuple(x.shape)}. Received: v.shape={tuple(v.shape)}"
        )
    # Shapes unknown until run time (in a tf.function) are compared then.
    # v depends on the check, so no op using v can fail on the shapes first.
    same = tf.reduce_all(tf.equal(tf.shape(v), tf.shape(x)))
    with tf.control_dependencies(
        [tf.debugging.Assert(same, [HVP_SHAPE_MISMATCH, tf.shape(v), "x.shape =", tf.shape(x)])]
    ):
        v = tf.identity(v)
    if method == "forward_over_reverse":
        return forward_over_reverse(loss_fn, x, v)
    if method in ("finite_difference", "secant"):
        _, gradient = gradients.input_gradient(loss_fn, x)
        if method == "secant":
            return secant(loss_fn, x, v, gradient)
        return finite_difference(loss_fn, x, v, gradient, step)
    _, _, gradient, tape = recorded_gradient(loss_fn, x)
    return reverse_over_reverse(tape, gradient, x, v)


__getattr__ = _deprecation.moved_attributes(
    __name__, {"input_gradient": "keras_quadreg.ops.gradients.input_gradient"}
)

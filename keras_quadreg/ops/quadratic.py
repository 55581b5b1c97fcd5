"""The quadratic model of the adversarial loss and its worst case.

Around an input `x` the loss is approximated by

    l(x + delta) ~= l(x) + q(delta),   q(delta) = g.delta + 1/2 delta.H.delta

with `g` and `H` the per-example input gradient and Hessian. Its worst case
over a threat model is approximated by a few Frank-Wolfe iterations, each
costing one Hessian-vector product.
"""

import tensorflow as tf

from keras_quadreg import _batch, _validation
from keras_quadreg.ops import _loss_fn, gradients, hessian
from keras_quadreg.ops import threat as threat_lib

STEP_RULES = ("frank_wolfe", "fixed_point", "line_search")
# No quotes: graph-mode assertions print their message escaped.
NON_FINITE_INPUTS = (
    "worst_case_quadratic: expected `x` to hold only finite values, the loss "
    "has no quadratic model at NaN or Inf. Received: x with NaN or Inf values"
)


class LocalQuadratic:
    """`q(delta) = g.delta + 1/2 delta.H.delta` of per-example losses at `x`.

    Building it evaluates `loss_fn` once at `x`, under nested tapes when
    `hvp="reverse_over_reverse"` so that every later product `H v` is a
    backward pass through that one recorded evaluation. The other methods
    evaluate `hvp_loss_fn` again, at other points, for each product.

    Args:
        loss_fn: Callable mapping `x` to per-example losses, or to
            `(losses, aux)` (the pair is kept as `.aux`).
        x: Floating-point batch of inputs.
        hvp: One of `kq.ops.HVP_METHODS`.
        finite_difference_step: Input-space step of `"finite_difference"`.
        hvp_loss_fn: The function whose Hessian products are taken by the
            methods that evaluate it again; defaults to `loss_fn`. Pass a
            side-effect-free twin when `loss_fn` has side effects (such as a
            model's training pass updating BatchNormalization statistics).

    Attributes:
        losses: Per-example losses at `x`.
        gradient: Per-example input gradients `g`.
        aux: What `loss_fn` returned beside the losses, or None.
    """

    def __init__(
        self,
        loss_fn,
        x,
        *,
        hvp="reverse_over_reverse",
        finite_difference_step=1e-3,
        hvp_loss_fn=None,
    ):
        self.method = hessian.check_hvp_method(hvp, "hvp")
        self._step = _validation.positive_number("finite_difference_step", finite_difference_step)
        self.x = _loss_fn.check_inputs(x)
        self._hvp_loss_fn = hvp_loss_fn or loss_fn
        if self.method == "reverse_over_reverse":
            self.losses, self.aux, self.gradient, self._tape = hessian.recorded_gradient(
                loss_fn, self.x
            )
        else:
            self.losses, self.gradient, self.aux = gradients.input_gradient(
                loss_fn, self.x, has_aux=True
            )

    def hvp(self, v):
        """Per-example `H v`."""
        if self.method == "reverse_over_reverse":
            return hessian.reverse_over_reverse(self._tape, self.gradient, self.x, v)
        if self.method == "forward_over_reverse":
            return hessian.forward_over_reverse(self._hvp_loss_fn, self.x, v)
        if self.method == "secant":
            return hessian.secant(self._hvp_loss_fn, self.x, v, self.gradient)
        return hessian.finite_difference(self._hvp_loss_fn, self.x, v, self.gradient, self._step)

    def first_order(self, delta):
        """Per-example `g.delta`."""
        return _batch.dot(self.gradient, delta)

    def second_order(self, delta, h_delta=None):
        """Per-example `1/2 delta.H.delta` (pass `h_delta` if already known)."""
        if h_delta is None:
            h_delta = self.hvp(delta)
        return 0.5 * _batch.dot(delta, h_delta)

    def __call__(self, delta):
        """Per-example `q(delta)`."""
        return self.first_order(delta) + self.second_order(delta)


def keep_ascent(delta, value):
    """The better of `delta` and `0` for each example, and its value.

    The worst case of a function over a ball that contains 0 is at least its
    value at 0; `q(0) = 0`, and so is the excess loss at 0. A Frank-Wolfe
    iterate whose value is negative (possible where the curvature is
    negative) is replaced by 0, so the worst-case estimate never drops below
    0 and no training step can profit from driving it negative.

    Args:
        delta: Perturbations `(batch, ...)`.
        value: Their per-example values `(batch,)`.

    Returns:
        `(delta, value)` with both set to 0 where `value < 0`.
    """
    ascent = value > 0
    delta = tf.where(_batch.broadcast(ascent, delta), delta, tf.zeros_like(delta))
    return delta, tf.where(ascent, value, tf.zeros_like(value))


def check_step_rule(step_rule):
    return _validation.choice("step_rule", step_rule, STEP_RULES)


def frank_wolfe(quadratic, threat_model, *, iterations, step_rule="frank_wolfe", center=None):
    """Maximizes a `LocalQuadratic` over a threat model by Frank-Wolfe.

    `delta_0 = 0`; at step `k` the gradient of `q` is `v_k = g + H delta_k`,
    the oracle returns `s_k = lmo(v_k)` and
    `delta_{k+1} = delta_k + gamma_k (s_k - delta_k)`, with `gamma_k`:

    - `"frank_wolfe"`: `2 / (k + 2)` (so `delta_1 = s_0`);
    - `"fixed_point"`: 1, i.e. `delta_{k+1} = lmo(g + H delta_k)`;
    - `"line_search"`: the exact maximizer of `q` on the segment, closed form
      since `q` is quadratic along `s_k - delta_k`.

    The quadratic may be expanded at a point `x0` other than the center of
    the ball (`center`, e.g. a random point of the ball around `x`): `delta`
    is then measured from `x0`, the oracle returns the vertex of the ball
    around `center` minus `x0`, and every iterate stays in that ball, since
    `x0` is in it and the ball is convex.

    The frank_wolfe and fixed_point rules cost `iterations - 1` products
    (none at `k = 0`). Line search costs `iterations` products: it needs
    `H s_k`, and keeps `H delta_k` up to date by linearity instead of
    recomputing it.

    Args:
        quadratic: A `LocalQuadratic`.
        threat_model: A `ThreatModel` (see `kq.ops.threat_model`).
        iterations: Number of iterations `K >= 1`.
        step_rule: One of `kq.ops.STEP_RULES`.
        center: Center of the threat ball, a point with `quadratic.x` in its
            ball; None for `quadratic.x` itself.

    Returns:
        `delta_K`, shaped like the inputs, with gradients stopped: by
        Danskin's theorem the worst case is differentiated at a fixed
        maximizer.
    """
    iterations = _validation.integer("iterations", iterations, minimum=1)
    step_rule = check_step_rule(step_rule)
    x, g = quadratic.x, quadratic.gradient
    center = x if center is None else tf.stop_gradient(center)
    offset = center - x  # 0 when the ball is centered at the expansion point
    delta = tf.zeros_like(x)
    h_delta = tf.zeros_like(x)
    for k in range(iterations):
        v = g + h_delta if k else g
        s = tf.stop_gradient(offset + threat_model.lmo(tf.stop_gradient(v), center))
        if step_rule == "line_search":
            d = s - delta
            h_d = tf.stop_gradient(quadratic.hvp(s)) - h_delta
            slope = _batch.dot(v, d)  # >= 0 since s maximizes <v, .>
            curvature = _batch.dot(d, h_d)
            # max of slope*t + curvature*t^2/2 on [0, 1]: interior only if concave.
            interior = tf.clip_by_value(tf.math.divide_no_nan(-slope, curvature), 0.0, 1.0)
            gamma = tf.where(curvature < 0, interior, tf.ones_like(curvature))
            gamma = _batch.broadcast(tf.stop_gradient(gamma), x)
            delta = delta + gamma * d
            h_delta = h_delta + gamma * h_d
            continue
        gamma = 1.0 if step_rule == "fixed_point" else 2.0 / (k + 2.0)
        delta = delta + gamma * (s - delta)
        if k + 1 < iterations:
            h_delta = tf.stop_gradient(quadratic.hvp(delta))
    return tf.stop_gradient(delta)


def worst_case_quadratic(
    loss_fn,
    x,
    *,
    epsilon,
    norm,
    iterations,
    step_rule="frank_wolfe",
    hvp="reverse_over_reverse",
    clip_min=None,
    clip_max=None,
    finite_difference_step=1e-3,
):
    """Approximate worst case of the quadratic loss model over a threat ball.

    Equivalent to building `LocalQuadratic(loss_fn, x, hvp=hvp)`, running
    `frank_wolfe` on it, evaluating `q` at the result and keeping it only
    where it beats `q(0) = 0` (`keep_ascent`).

    Example:

    ```python
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(
        y, model(x), from_logits=True)
    delta, value = kq.ops.worst_case_quadratic(
        loss_fn, x, epsilon=0.3, norm="inf", iterations=1)
    # iterations=1: delta = 0.3 * sign(grad), value = q(delta)
    ```

    Args:
        loss_fn: Callable mapping `x` to per-example losses `(batch,)`.
        x: Floating-point batch of inputs.
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        iterations: Frank-Wolfe iterations `K >= 1`.
        step_rule: `"frank_wolfe"`, `"fixed_point"` or `"line_search"`.
        hvp: How products `H v` are computed, one of `kq.ops.HVP_METHODS`.
        clip_min: Lower bound of valid inputs, or None.
        clip_max: Upper bound of valid inputs, or None.
        finite_difference_step: Input-space step of `"finite_difference"`.

    Returns:
        `(delta, value)`: the perturbations (gradients stopped) and the
        per-example `q(delta) >= 0`, differentiable with respect to anything
        `loss_fn` depends on.

    Raises:
        tf.errors.InvalidArgumentError: If `x` holds NaN or Inf (eagerly or
            in a graph). XLA compiles that check away; there, both outputs
            are NaN for the examples whose input is not finite.
    """
    threat_model = threat_lib.threat_model(epsilon, norm, clip_min, clip_max)
    iterations = _validation.integer("iterations", iterations, minimum=1)
    check_step_rule(step_rule)
    x = _loss_fn.check_inputs(x)
    finite = _batch.all_finite(x)
    tf.debugging.Assert(tf.reduce_all(finite), [NON_FINITE_INPUTS])
    quadratic = LocalQuadratic(loss_fn, x, hvp=hvp, finite_difference_step=finite_difference_step)
    delta = frank_wolfe(quadratic, threat_model, iterations=iterations, step_rule=step_rule)
    delta, value = keep_ascent(delta, quadratic(delta))
    # Otherwise keep_ascent would turn their NaN values into a plausible 0.
    nan = tf.constant(float("nan"), value.dtype)
    return (
        tf.where(_batch.broadcast(finite, delta), delta, nan),
        tf.where(finite, value, nan),
    )

"""Threat models: the set of perturbations an adversary may add to an input.

A threat model is a norm ball `{delta : ||delta||_p <= epsilon}`, optionally
intersected with the valid input box: `x + delta` must stay in
`[clip_min, clip_max]`. It is a small object with the handful of operations
attacks and the Frank-Wolfe solver need: `lmo`, `project`, `step` and
`random_init`.
"""

import warnings

import tensorflow as tf

from keras_quadreg import _batch, _validation


def stateless_seed(seed):
    """A `[2]` int32 seed tensor for `tf.random.stateless_*` from an int or tensor."""
    if isinstance(seed, int):
        return tf.constant([seed, 0], tf.int32)
    seed = tf.convert_to_tensor(seed)
    if seed.shape != (2,):
        raise ValueError(
            "Expected `seed` to be an integer or an integer tensor of shape (2,). "
            f"Received: seed.shape={tuple(seed.shape)}"
        )
    return tf.cast(seed, tf.int32)


class ThreatModel:
    """Base class: an l_p ball of radius `epsilon`, optionally in a box.

    Args:
        epsilon: Radius of the ball, > 0.
        clip_min: Lower bound of valid inputs, or None for no box.
        clip_max: Upper bound of valid inputs, or None for no box.
    """

    norm = None

    def __init__(self, epsilon, clip_min=None, clip_max=None):
        self.epsilon = _validation.positive_number("epsilon", epsilon)
        self.clip_min, self.clip_max = _validation.box(clip_min, clip_max)

    @property
    def has_box(self):
        return self.clip_min is not None

    def clip(self, x_adv):
        """Clips to the input box, if any."""
        if not self.has_box:
            return x_adv
        return tf.clip_by_value(x_adv, self.clip_min, self.clip_max)

    def bounds(self, x):
        """Per-coordinate bounds `(lower, upper)` on `delta` from the box, or None."""
        if not self.has_box:
            return None
        return self.clip_min - x, self.clip_max - x

    def lmo(self, v, x):
        """Linear maximization oracle: `argmax_{delta feasible at x} <v, delta>`."""
        raise NotImplementedError

    def project(self, x, x_adv):
        """Maps `x_adv` into the feasible set around `x`."""
        raise NotImplementedError

    def step(self, x_adv, gradient, step_size):
        """One steepest-ascent step of length `step_size` in this norm."""
        raise NotImplementedError

    def random_perturbation(self, shape, seed, dtype=tf.float32):
        """Uniformly random points of the ball, one per example of `shape`."""
        raise NotImplementedError

    def random_init(self, x, seed):
        """`x` plus a uniformly random point of the ball, clipped to the box."""
        return self.clip(x + self.random_perturbation(tf.shape(x), seed, x.dtype))

    def get_config(self):
        return {
            "norm": self.norm,
            "epsilon": self.epsilon,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
        }

    def __repr__(self):
        box = f", box=[{self.clip_min}, {self.clip_max}]" if self.has_box else ""
        return f"{type(self).__name__}(epsilon={self.epsilon}{box})"


class LinfBall(ThreatModel):
    """`||delta||_inf <= epsilon`. Separable, so the box is handled exactly."""

    norm = "inf"

    def lmo(self, v, x):
        delta = self.epsilon * tf.sign(v)
        bounds = self.bounds(x)
        if bounds is not None:
            delta = tf.clip_by_value(delta, *bounds)
        return delta

    def project(self, x, x_adv):
        delta = tf.clip_by_value(x_adv - x, -self.epsilon, self.epsilon)
        return self.clip(x + delta)

    def step(self, x_adv, gradient, step_size):
        return x_adv + step_size * tf.sign(gradient)

    def random_perturbation(self, shape, seed, dtype=tf.float32):
        return tf.random.stateless_uniform(
            shape, stateless_seed(seed), -self.epsilon, self.epsilon, dtype
        )


class L2Ball(ThreatModel):
    """`||delta||_2 <= epsilon`.

    With a box, `lmo` is exact: the maximizer of `<v, delta>` over the ball
    intersected with the box is `clip(t v, lower, upper)` for the smallest
    `t >= 0` that reaches the sphere (KKT), found by sorting the breakpoints
    where coordinates saturate. `project` scales into the ball, then clips:
    feasible, the usual choice for PGD, though not the exact projection.
    """

    norm = 2

    def lmo(self, v, x):
        bounds = self.bounds(x)
        if bounds is None:
            return self.epsilon * _batch.safe_unit(v)
        return _l2_box_lmo(v, *bounds, self.epsilon)

    def project(self, x, x_adv):
        delta = x_adv - x
        norm = _batch.broadcast(_batch.l2_norm(delta), delta)
        scale = tf.minimum(1.0, tf.math.divide_no_nan(self.epsilon, norm))
        scale = tf.where(norm > 0, scale, tf.ones_like(scale))
        return self.clip(x + delta * scale)

    def step(self, x_adv, gradient, step_size):
        return x_adv + step_size * _batch.safe_unit(gradient)

    def random_perturbation(self, shape, seed, dtype=tf.float32):
        seed = stateless_seed(seed)
        direction = _batch.safe_unit(tf.random.stateless_normal(shape, seed, dtype=dtype))
        # Radius eps * u^(1/d) makes the point uniform in the d-dimensional ball.
        dims = tf.cast(tf.reduce_prod(shape[1:]), dtype)
        u = tf.random.stateless_uniform(
            shape[:1], tf.random.experimental.stateless_fold_in(seed, 1), dtype=dtype
        )
        return _batch.broadcast(self.epsilon * u ** (1.0 / dims), direction) * direction


def _l2_box_lmo(v, lower, upper, epsilon):
    """`argmax <v, d>` s.t. `||d||_2 <= epsilon`, `lower <= d <= upper`.

    Needs `lower <= 0 <= upper` (the clean input lies in the box). The
    solution is `d(t) = clip(t v, lower, upper)` with `||d(t)|| = epsilon`, or
    the saturated corner when even that stays inside the ball. `||d(t)||^2`
    is piecewise quadratic in `t` with breakpoints `t_i = b_i / v_i`, `b_i`
    the bound coordinate `i` saturates at.
    """
    shape = tf.shape(v)
    batch = shape[0]
    flat_v = tf.reshape(v, [batch, -1])
    bound = tf.reshape(tf.where(v > 0, upper, lower), [batch, -1])
    bound = tf.where(tf.equal(flat_v, 0), tf.zeros_like(bound), bound)
    moving = tf.not_equal(flat_v, 0)
    inf = tf.constant(float("inf"), v.dtype)
    breakpoint = tf.where(moving, tf.math.divide_no_nan(bound, flat_v), inf)

    order = tf.argsort(breakpoint, axis=1)
    t_sorted = tf.gather(breakpoint, order, batch_dims=1)
    v2_sorted = tf.gather(tf.square(flat_v), order, batch_dims=1)
    b2_sorted = tf.gather(tf.square(bound), order, batch_dims=1)
    # With the first j+1 sorted coordinates saturated:
    saturated = tf.cumsum(b2_sorted, axis=1)
    free = tf.reduce_sum(v2_sorted, axis=1, keepdims=True) - tf.cumsum(v2_sorted, axis=1)
    free = tf.maximum(free, 0.0)
    finite_t = tf.where(tf.math.is_finite(t_sorted), t_sorted, tf.zeros_like(t_sorted))
    norm2_at_break = tf.where(
        tf.math.is_finite(t_sorted), saturated + tf.square(finite_t) * free, inf
    )
    eps2 = tf.cast(epsilon**2, v.dtype)
    # m = how many breakpoints are passed before the sphere is reached.
    m = tf.reduce_sum(tf.cast(norm2_at_break <= eps2, tf.int32), axis=1)
    padded_saturated = tf.pad(saturated, [[0, 0], [1, 0]])
    total_v2 = tf.reduce_sum(v2_sorted, axis=1, keepdims=True)
    padded_free = tf.concat([total_v2, free], axis=1)
    b_m = tf.gather(padded_saturated, m, batch_dims=1)
    s_m = tf.gather(padded_free, m, batch_dims=1)
    reaches_sphere = s_m > 0
    t_star = tf.sqrt(tf.math.divide_no_nan(tf.maximum(eps2 - b_m, 0.0), s_m))
    t_star = tf.where(reaches_sphere, t_star, inf)
    scaled = tf.where(
        moving, flat_v * tf.where(tf.math.is_finite(t_star), t_star, 0.0)[:, None], 0.0
    )
    corner = bound
    flat_delta = tf.where(
        reaches_sphere[:, None],
        tf.clip_by_value(scaled, tf.reshape(lower, [batch, -1]), tf.reshape(upper, [batch, -1])),
        corner,
    )
    return tf.reshape(flat_delta, shape)


_THREAT_MODELS = {"inf": LinfBall, 2: L2Ball}


def _is_norm(value):
    try:
        _validation.norm(value)
    except ValueError:
        return False
    return True


def threat_model(epsilon, norm="inf", clip_min=None, clip_max=None):
    """Builds the threat model of radius `epsilon` in `norm` (`"inf"` or `2`).

    The arguments come in the order of the rest of the API (`epsilon`, then
    `norm`). The old order, `threat_model("inf", 0.3, ...)`, still works
    with a `DeprecationWarning` and will be removed in the next release.

    Example:

    ```python
    threat = kq.ops.threat_model(0.3, norm="inf", clip_min=0.0, clip_max=1.0)
    delta = threat.lmo(gradient, x)      # eps * sign(gradient), kept in the box
    ```

    Args:
        epsilon: Radius of the ball, > 0, or a `ThreatModel`, returned as is.
        norm: `"inf"` (or `np.inf`) or `2`.
        clip_min: Lower bound of valid inputs, or None.
        clip_max: Upper bound of valid inputs, or None.

    Returns:
        A `LinfBall` or an `L2Ball`.
    """
    if isinstance(epsilon, ThreatModel):
        return epsilon
    # The old order: a norm where the radius goes, and a radius that is no norm.
    if _is_norm(epsilon) and not _is_norm(norm):
        epsilon, norm = norm, epsilon
        warnings.warn(
            "kq.ops.threat_model takes `epsilon` first, then `norm`: write "
            f"threat_model({epsilon!r}, norm={_validation.norm(norm)!r}, ...) instead of "
            f"threat_model({norm!r}, {epsilon!r}, ...). The old order will be removed in the "
            "next release.",
            DeprecationWarning,
            stacklevel=2,
        )
    return _THREAT_MODELS[_validation.norm(norm)](epsilon, clip_min, clip_max)

"""FAB-T (Croce & Hein 2020, "Minimally distorted adversarial examples with
a fast adaptive boundary attack"), targeted, native to TensorFlow.

FAB looks for the smallest perturbation that changes the class. For a
target class `t` it linearizes `f = z_y - z_t` at the current iterate
`x_i` and projects onto the hyperplane `f(x_i) + <grad f(x_i), z - x_i> = 0`
intersected with the box, both from `x_i` (`d_i`) and from the clean input
`x` (`d_0`), and moves to

    x_{i+1} = clip((1 - a) (x_i + eta d_i) + a (x + eta d_0)),
    a = min(||d_i|| / (||d_i|| + ||d_0||), alpha_max),

with `alpha_max = 0.1` and `eta = 1.05`. When `x_{i+1}` is misclassified
it is kept if it is the closest so far, and the iterate steps back
towards `x`: `x_{i+1} = (1 - beta) x + beta x_{i+1}`, `beta = 0.9`. The
first run starts at `x`, as in the standard AutoAttack. An example counts
as broken when its closest misclassified point lies inside the ball.

The projection (minimal `||d||_p`, `p` = inf or 2, subject to
`<w, d> = c` and the box) is `d = clip(s t u, lower, upper)` with
`u = sign(w)` (l_inf) or `u = w` (l_2) and `s = sign(c)`, the optimality
condition of each problem; `<w, d>` grows with `t`, which is found by
bisection, keeping the end that reaches the plane (the box may make the
plane unreachable: then `d` is the corner that gets closest).

This is the algorithm of the authors' code (fra31/auto-attack, `fab_base.py`
and `fab_projections.py`, as AutoAttack configures FAB-T: 100 iterations,
9 target classes, the highest-scoring other classes at the clean input, one
run each from the clean input). The code computes the projections exactly
by sorting the breakpoints, this module by bisection to float32
resolution; like the code, it floors `||d_i||` and `||d_0||` at 1e-8
before taking `a` (so `a = alpha_max` when both vanish).
"""

import tensorflow as tf

from keras_quadreg import _batch, _validation
from keras_quadreg.attacks import _runner
from keras_quadreg.attacks.registry import register

ALPHA_MAX = 0.1
ETA = 1.05
BETA = 0.9
# Halvings of the bracket of `t`: far below float32 resolution.
_BISECTIONS = 60
# The authors' code floors both projection lengths at this before their ratio.
_SHORTEST = 1e-8


def project_on_plane(w, c, lower, upper, norm):
    """Minimal-norm `d` with `<w, d> = c` and `lower <= d <= upper`.

    Example:

    ```python
    d = kq.attacks.fab.project_on_plane(w, c, 0.0 - x, 1.0 - x, "inf")
    ```

    Args:
        w: Normals of the planes, `(batch, ...)`.
        c: Offsets, `(batch,)`.
        lower: Lower bounds on `d` (<= 0), shaped like `w`.
        upper: Upper bounds on `d` (>= 0), shaped like `w`.
        norm: `"inf"` or `2`.

    Returns:
        `d` shaped like `w`; where the box cannot reach the plane, the
        point of the box with `<w, d>` closest to `c`.
    """
    shape = tf.shape(w)
    w = tf.reshape(w, [shape[0], -1])
    lower = tf.reshape(lower, tf.shape(w))
    upper = tf.reshape(upper, tf.shape(w))
    sign = tf.where(c < 0, -1.0, 1.0)[:, None]
    goal = tf.abs(c)
    direction = sign * (tf.sign(w) if norm == "inf" else w)
    # Past `high` every moving coordinate is at its bound.
    reach = tf.maximum(tf.abs(lower), tf.abs(upper))
    if norm == "inf":
        high = tf.reduce_max(reach, axis=1)
        low = tf.zeros_like(high)
    else:
        high = tf.reduce_max(tf.math.divide_no_nan(reach, tf.abs(w)), axis=1)
        # The plane without the box; the box only shrinks <w, d>. The bracket
        # can span many orders of magnitude, so it is halved geometrically.
        low = tf.minimum(tf.math.divide_no_nan(goal, tf.reduce_sum(tf.square(w), axis=1)), high)
        high = tf.where(low > 0, high, 0.0)

    def moved(t):
        return tf.clip_by_value(direction * t[:, None], lower, upper)

    def halve(low, high):
        if norm == "inf":
            middle = 0.5 * (low + high)
        else:
            middle = tf.exp(0.5 * (tf.math.log(low) + tf.math.log(high)))
        enough = sign[:, 0] * tf.reduce_sum(w * moved(middle), axis=1) >= goal
        return tf.where(enough, low, middle), tf.where(enough, middle, high)

    for _ in range(_BISECTIONS):
        low, high = halve(low, high)
    return tf.reshape(moved(high), shape)


def fab_t(model_fn, x, y, target, threat_model, steps):
    """One run of FAB-T on a batch, as TensorFlow ops.

    Args:
        model_fn: Callable from a batch of inputs to logits.
        x: Clean inputs, float32 `(batch, ...)`, inside the box.
        y: True classes, int64 `(batch,)`.
        target: Target classes, int64 `(batch,)`.
        threat_model: A `kq.ops.ThreatModel` with a box.
        steps: Number of iterations, a Python int >= 1.

    Returns:
        `(x_adv, distance)`: per example the closest misclassified point
        found (`x` if none) and its distance to `x` (inf if none).
    """
    low, high = threat_model.clip_min, threat_model.clip_max
    size = _batch.linf_norm if threat_model.norm == "inf" else _batch.l2_norm

    def linearize(point):
        with tf.GradientTape() as tape:
            tape.watch(point)
            logits = tf.cast(model_fn(point), tf.float32)
            difference = tf.gather(logits, y, batch_dims=1) - tf.gather(
                logits, target, batch_dims=1
            )
        return difference, tape.gradient(difference, point)

    def misclassified(point):
        logits = model_fn(point)
        return tf.not_equal(tf.argmax(logits, axis=-1, output_type=y.dtype), y)

    def where(condition, a, b):
        return tf.where(_batch.broadcast(condition, a), a, b)

    def body(i, current, best, best_distance):
        value, gradient = linearize(current)
        # The plane {z : value + <gradient, z - current> = 0}, from `current` and from `x`.
        to_plane = project_on_plane(
            gradient, -value, low - current, high - current, threat_model.norm
        )
        offset = -value + _batch.dot(gradient, current - x)
        to_plane_from_x = project_on_plane(gradient, offset, low - x, high - x, threat_model.norm)
        near = tf.maximum(size(to_plane), _SHORTEST)
        far = tf.maximum(size(to_plane_from_x), _SHORTEST)
        alpha = _batch.broadcast(tf.minimum(near / (near + far), ALPHA_MAX), x)
        candidate = threat_model.clip(
            (1.0 - alpha) * (current + ETA * to_plane) + alpha * (x + ETA * to_plane_from_x)
        )
        fooled = misclassified(candidate)
        distance = size(candidate - x)
        closer = fooled & (distance < best_distance)
        return (
            i + 1,
            where(fooled, (1.0 - BETA) * x + BETA * candidate, candidate),
            where(closer, candidate, best),
            tf.where(closer, distance, best_distance),
        )

    infinity = tf.fill([tf.shape(x)[0]], float("inf"))
    _, _, best, best_distance = tf.while_loop(
        lambda i, *_: i < steps, body, (tf.constant(0), x, x, infinity)
    )
    return best, best_distance


@register("fab_t")
class FABT(_runner.RobustExamplesAttack):
    """FAB-T: the targeted fast adaptive boundary attack.

    The third attack of the standard AutoAttack (Croce & Hein 2020): a
    minimum-norm attack, one run per target class (the `target_classes`
    highest-scoring other classes at the clean input, in decreasing order),
    each on the examples still robust. See the module `kq.attacks.fab` for
    the exact algorithm. An example is broken when the closest
    misclassified point found lies in the threat model's ball. Needs an
    input box.

    Example:

    ```python
    l2_threat = kq.ops.threat_model(1.5, norm=2, clip_min=0.0, clip_max=1.0)
    fab = kq.attacks.FABT(target_classes=3)
    x_adv = fab.generate(model_fn, x, y, l2_threat, seed=0)  # broken within 1.5 in l_2
    ```

    Args:
        steps: Iterations per run, >= 1.
        target_classes: How many target classes to try, >= 1 (at most the
            number of classes minus one are used).
        jit_compile: Whether to compile each run with XLA (one compilation
            per distinct number of examples still robust).
        name: Key in reports.
    """

    needs_box = True
    restartable = False

    def __init__(self, steps=100, target_classes=9, jit_compile=False, name=None):
        super().__init__(restarts=1, jit_compile=jit_compile, name=name)
        self.steps = _validation.integer("steps", steps, minimum=1)
        self.target_classes = _validation.integer("target_classes", target_classes, minimum=1)

    def run_batch(self, model_fn, x, y, target, threat_model, seed):
        del seed  # the single run starts at the clean input
        best, distance = fab_t(model_fn, x, y, target, threat_model, self.steps)
        return best, distance <= threat_model.epsilon

    def _targets(self, logits, y):
        return _runner.ranked_targets(logits, y, self.target_classes)

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "target_classes": self.target_classes}

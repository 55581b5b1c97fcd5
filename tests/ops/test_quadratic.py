"""Frank-Wolfe on a loss whose Hessian is known in closed form.

Each example's loss is `l_i(x) = a_i.x + 1/2 x.A_i.x`, so `g_i = a_i + A_i x_i`
and `H_i = A_i` exactly; the iterates are recomputed here in NumPy.
"""

import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from tests.conftest import run_in_mode

BATCH, DIM = 4, 7


def _problem(seed=0, indefinite=True):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(BATCH, DIM, DIM))
    hessians = (m + m.transpose(0, 2, 1)) / 2
    if not indefinite:
        hessians = m @ m.transpose(0, 2, 1)
    linear = rng.normal(size=(BATCH, DIM))
    x = rng.uniform(0.05, 0.95, size=(BATCH, DIM))
    x[:, 0] = 1.0  # on the box boundary: the box must bind
    a_t, h_t = tf.constant(linear), tf.constant(hessians)

    def loss_fn(x):
        return tf.reduce_sum(a_t * x, 1) + 0.5 * tf.einsum("bi,bij,bj->b", x, h_t, x)

    return loss_fn, tf.constant(x), linear + np.einsum("bij,bj->bi", hessians, x), hessians


def _np_l2_box_lmo(v, lower, upper, eps):
    """Bisection on t for clip(t v, lower, upper) reaching the sphere."""
    norm = lambda t: np.linalg.norm(np.clip(t * v, lower, upper))
    if norm(1e12) <= eps:
        return np.clip(1e12 * v, lower, upper)
    lo, hi = 0.0, 1.0
    while norm(hi) < eps:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if norm(mid) < eps else (lo, mid)
    return np.clip(hi * v, lower, upper)


def _np_lmo(v, x, norm, eps, box):
    if norm == "inf":
        s = eps * np.sign(v)
        return np.clip(s, -x, 1 - x) if box else s
    if not box:
        return eps * v / np.linalg.norm(v)
    return _np_l2_box_lmo(v, -x, 1 - x, eps)


def _np_frank_wolfe(g, hessian, x, norm, eps, box, iterations, rule):
    q = lambda d: g @ d + 0.5 * d @ hessian @ d
    delta = np.zeros_like(g)
    for k in range(iterations):
        s = _np_lmo(g + hessian @ delta, x, norm, eps, box)
        if rule == "frank_wolfe":
            gamma = 2 / (k + 2)
        elif rule == "fixed_point":
            gamma = 1.0
        else:
            d = s - delta
            curvature = d @ hessian @ d
            candidates = [0.0, 1.0]
            if curvature < 0:
                candidates.append(np.clip(-(g + hessian @ delta) @ d / curvature, 0, 1))
            gamma = max(candidates, key=lambda t: q(delta + t * d))
        delta = delta + gamma * (s - delta)
    return delta, q(delta)


@pytest.mark.parametrize("norm", ["inf", 2])
@pytest.mark.parametrize("box", [False, True])
@pytest.mark.parametrize("rule", kq.ops.STEP_RULES)
@pytest.mark.parametrize("iterations", [1, 2, 5])
def test_frank_wolfe_matches_hand_computation(norm, box, rule, iterations):
    loss_fn, x, g, hessians = _problem()
    eps = 0.3
    clip = dict(clip_min=0.0, clip_max=1.0) if box else {}
    delta, value = kq.ops.worst_case_quadratic(
        loss_fn, x, epsilon=eps, norm=norm, iterations=iterations, step_rule=rule, **clip
    )
    for i in range(BATCH):
        expected_delta, expected_value = _np_frank_wolfe(
            g[i], hessians[i], x.numpy()[i], norm, eps, box, iterations, rule
        )
        np.testing.assert_allclose(delta[i], expected_delta, atol=1e-9)
        np.testing.assert_allclose(value[i], expected_value, atol=1e-9)


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_one_iteration_is_the_signed_gradient(mode):
    loss_fn, x, g, hessians = _problem(seed=3)
    delta, value = run_in_mode(
        lambda: kq.ops.worst_case_quadratic(loss_fn, x, epsilon=0.1, norm="inf", iterations=1),
        mode,
    )
    np.testing.assert_allclose(delta, 0.1 * np.sign(g))
    # R_1 = eps ||g||_1 + eps^2/2 sign(g).H.sign(g)
    expected = 0.1 * np.abs(g).sum(1) + 0.005 * np.einsum(
        "bi,bij,bj->b", np.sign(g), hessians, np.sign(g)
    )
    np.testing.assert_allclose(value, expected, rtol=1e-10)


@pytest.mark.parametrize("method", kq.ops.HVP_METHODS)
def test_value_is_q_of_delta_for_every_hvp_method(method):
    loss_fn, x, g, hessians = _problem(seed=5)
    delta, value = kq.ops.worst_case_quadratic(
        loss_fn, x, epsilon=0.2, norm=2, iterations=3, hvp=method
    )
    d = delta.numpy()
    q = np.einsum("bi,bi->b", g, d) + 0.5 * np.einsum("bi,bij,bj->b", d, hessians, d)
    # The loss is exactly quadratic, so finite differences are exact up to rounding.
    np.testing.assert_allclose(value, q, rtol=1e-6)


def test_local_quadratic_composition_equals_worst_case_quadratic():
    loss_fn, x, _, _ = _problem(seed=7)
    quadratic = kq.ops.LocalQuadratic(loss_fn, x)
    threat = kq.ops.threat_model(0.25, "inf", 0.0, 1.0)
    delta = kq.ops.frank_wolfe(quadratic, threat, iterations=3, step_rule="line_search")
    by_hand = quadratic.first_order(delta) + quadratic.second_order(delta)
    expected_delta, expected_value = kq.ops.worst_case_quadratic(
        loss_fn,
        x,
        epsilon=0.25,
        norm="inf",
        iterations=3,
        step_rule="line_search",
        clip_min=0.0,
        clip_max=1.0,
    )
    np.testing.assert_allclose(delta, expected_delta)
    np.testing.assert_allclose(by_hand, expected_value)


def test_value_is_differentiable_and_delta_is_not():
    loss_fn_unused, x, _, _ = _problem()
    scale = tf.Variable(2.0, dtype=tf.float64)
    loss_fn = lambda x: scale * tf.reduce_sum(tf.sin(x), 1)
    with tf.GradientTape(persistent=True) as tape:
        delta, value = kq.ops.worst_case_quadratic(
            loss_fn, x, epsilon=0.1, norm="inf", iterations=2
        )
        total = tf.reduce_sum(value)
    assert tape.gradient(tf.reduce_sum(delta), scale) is None
    # value is linear in the scale of the loss at a fixed delta.
    np.testing.assert_allclose(tape.gradient(total, scale), total / 2.0)


def test_more_iterations_never_decrease_the_line_search_value():
    loss_fn, x, _, _ = _problem(seed=11, indefinite=False)
    values = [
        kq.ops.worst_case_quadratic(
            loss_fn, x, epsilon=0.5, norm=2, iterations=k, step_rule="line_search"
        )[1]
        for k in (1, 2, 4, 8)
    ]
    for before, after in zip(values, values[1:]):
        assert np.all(after.numpy() >= before.numpy() - 1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(epsilon=0.0),
            "Expected `epsilon` to be a finite positive number. Received: epsilon=0.0",
        ),
        (dict(epsilon=-1), "Received: epsilon=-1"),
        (dict(norm=1), r'Expected `norm` to be "inf" \(or np.inf\) or 2. Received: norm=1'),
        (dict(iterations=0), "Expected `iterations` to be an integer >= 1. Received: iterations=0"),
        (dict(step_rule="armijo"), "Received: step_rule='armijo'"),
        (dict(hvp="exact"), "Received: hvp='exact'"),
        (dict(clip_min=0.0), "Received: clip_min=0.0, clip_max=None"),
        (dict(clip_min=1.0, clip_max=0.0), "Expected `clip_min` < `clip_max`"),
    ],
)
def test_worst_case_quadratic_validates_arguments(kwargs, message):
    loss_fn, x, _, _ = _problem()
    args = dict(epsilon=0.1, norm="inf", iterations=1) | kwargs
    with pytest.raises(ValueError, match=message):
        kq.ops.worst_case_quadratic(loss_fn, x, **args)

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from tests.conftest import run_in_mode


def _smooth_classifier(seed=0, dim=6, classes=4):
    """A float64 tanh MLP: smooth, so finite differences converge."""
    rng = np.random.default_rng(seed)
    w1 = tf.constant(rng.normal(size=(dim, 8)), tf.float64)
    w2 = tf.constant(rng.normal(size=(8, classes)), tf.float64)
    labels = tf.constant(rng.integers(0, classes, size=5))

    def loss_fn(x):
        logits = tf.tanh(x @ w1) @ w2
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)

    x = tf.constant(rng.normal(size=(5, dim)), tf.float64)
    v = tf.constant(rng.normal(size=(5, dim)), tf.float64)
    return loss_fn, x, v


def dense_hessians(loss_fn, x):
    """Per-example Hessians as Jacobians of the gradient, `(batch, d, d)`."""
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(loss_fn(x))
        g = inner.gradient(total, x)
    return outer.batch_jacobian(g, x)


@pytest.mark.parametrize("method", ["reverse_over_reverse", "forward_over_reverse"])
@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_exact_hvp_equals_dense_hessian(method, mode):
    loss_fn, x, v = _smooth_classifier()
    expected = tf.einsum("bij,bj->bi", dense_hessians(loss_fn, x), v)
    got = run_in_mode(lambda: kq.ops.hvp(loss_fn, x, v, method=method), mode)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_finite_difference_error_is_first_order_in_the_step():
    loss_fn, x, v = _smooth_classifier()
    expected = tf.einsum("bij,bj->bi", dense_hessians(loss_fn, x), v).numpy()
    errors = []
    for step in (1e-2, 1e-3, 1e-4):
        got = kq.ops.hvp(loss_fn, x, v, method="finite_difference", finite_difference_step=step)
        errors.append(np.abs(got.numpy() - expected).max())
    scale = np.abs(expected).max()
    # Forward differences: error ~ C * step * ||v||; 10x smaller step, ~10x smaller error.
    assert errors[0] < 0.05 * scale
    for big, small in zip(errors, errors[1:]):
        assert 5 < big / small < 20


def test_hvp_on_a_keras_model_matches_dense_hessian():
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((3, 3, 1)),
            keras.layers.Conv2D(2, 2, activation="softplus"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    x = tf.random.uniform((4, 3, 3, 1))
    y = tf.constant([0, 1, 2, 1])
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    v = tf.random.normal(x.shape)
    flat = lambda x: loss_fn(tf.reshape(x, (-1, 3, 3, 1)))
    hessians = dense_hessians(flat, tf.reshape(x, (4, 9)))
    expected = tf.reshape(tf.einsum("bij,bj->bi", hessians, tf.reshape(v, (4, 9))), x.shape)
    for method in ("reverse_over_reverse", "forward_over_reverse", "finite_difference"):
        got = kq.ops.hvp(loss_fn, x, v, method=method)
        tol = 5e-2 if method == "finite_difference" else 1e-4
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_secant_is_the_gradient_difference_across_v(mode):
    loss_fn, x, v = _smooth_classifier()
    got = run_in_mode(lambda: kq.ops.hvp(loss_fn, x, v, method="secant"), mode)
    _, at_x = kq.ops.input_gradient(loss_fn, x)
    _, at_shifted = kq.ops.input_gradient(loss_fn, x + v)
    np.testing.assert_allclose(got, at_shifted - at_x, rtol=1e-9, atol=1e-12)
    # A secant, not a tangent: far from H v for a step as large as v.
    exact = tf.einsum("bij,bj->bi", dense_hessians(loss_fn, x), v)
    assert np.abs(got - exact).max() > 0.1 * np.abs(exact).max()


def test_input_gradient_is_per_example():
    loss_fn, x, _ = _smooth_classifier()
    losses, g = kq.ops.input_gradient(loss_fn, x)
    for i in range(x.shape[0]):
        with tf.GradientTape() as tape:
            xi = x[i : i + 1]
            tape.watch(xi)
            li = loss_fn(tf.concat([x[:i], xi, x[i + 1 :]], 0))[i]
        np.testing.assert_allclose(g[i], tape.gradient(li, xi)[0], rtol=1e-10)
    assert losses.shape == (5,)


def test_hvp_rejects_unknown_method():
    loss_fn, x, v = _smooth_classifier()
    with pytest.raises(
        ValueError,
        match=r"Expected `method` to be one of \['reverse_over_reverse', 'forward_over_reverse', "
        r"'finite_difference', 'secant'\]. Received: method='exact'",
    ):
        kq.ops.hvp(loss_fn, x, v, method="exact")


def test_hvp_rejects_reduced_losses():
    _, x, v = _smooth_classifier()
    with pytest.raises(ValueError, match=r"one loss per example.*Received: losses.shape=\(\)"):
        kq.ops.hvp(lambda x: tf.reduce_sum(x**2), x, v)


def test_hvp_rejects_integer_inputs_and_mismatched_direction():
    loss_fn, x, v = _smooth_classifier()
    with pytest.raises(ValueError, match="floating-point tensor.*Received: x.dtype=int32"):
        kq.ops.hvp(loss_fn, tf.zeros((5, 6), tf.int32), v)
    with pytest.raises(ValueError, match=r"Received: v.shape=\(5, 3\)"):
        kq.ops.hvp(loss_fn, x, v[:, :3])
    with pytest.raises(ValueError, match="Received: finite_difference_step=0"):
        kq.ops.hvp(loss_fn, x, v, finite_difference_step=0)

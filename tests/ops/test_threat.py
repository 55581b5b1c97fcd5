import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from tests.ops.test_quadratic import _np_l2_box_lmo


@pytest.mark.parametrize("seed", range(5))
def test_l2_box_lmo_is_exact(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(3, 40))
    x[:, :5] = 1.0
    x[:, 5:10] = 0.0
    v = rng.normal(size=(3, 40))
    v[:, 10:12] = 0.0
    for eps in (0.05, 0.5, 2.0, 10.0):  # 10.0 exceeds the whole box: the corner
        threat = kq.ops.L2Ball(eps, 0.0, 1.0)
        got = threat.lmo(tf.constant(v), tf.constant(x)).numpy()
        for i in range(3):
            expected = _np_l2_box_lmo(v[i], -x[i], 1 - x[i], eps)
            np.testing.assert_allclose(got[i], expected, atol=1e-8)
            assert np.linalg.norm(got[i]) <= eps + 1e-9
            assert np.all(x[i] + got[i] >= -1e-12) and np.all(x[i] + got[i] <= 1 + 1e-12)


def test_lmo_of_zero_direction_is_zero():
    x = tf.fill((2, 3), 0.5)
    for norm in ("inf", 2):
        for box in ((None, None), (0.0, 1.0)):
            threat = kq.ops.threat_model(0.3, norm, *box)
            np.testing.assert_array_equal(threat.lmo(tf.zeros_like(x), x), 0.0)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_random_init_and_project_stay_feasible_and_are_reproducible(norm):
    x = tf.random.uniform((16, 5, 5, 1), seed=1)
    threat = kq.ops.threat_model(0.3, norm, 0.0, 1.0)
    a, b = threat.random_init(x, seed=7), threat.random_init(x, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, threat.random_init(x, seed=8))
    far = threat.project(x, x + tf.random.normal(x.shape, seed=2))
    for point in (a, far):
        delta = (point - x).numpy().reshape(16, -1)
        size = np.abs(delta).max(1) if norm == "inf" else np.linalg.norm(delta, axis=1)
        assert np.all(size <= 0.3 + 1e-6)
        assert point.numpy().min() >= 0 and point.numpy().max() <= 1


def test_l2_random_init_fills_the_ball():
    x = tf.zeros((4000, 2))
    radius = np.linalg.norm(kq.ops.L2Ball(1.0).random_init(x, 0).numpy(), axis=1)
    # Uniform in a disc: P(r <= 1/2) = 1/4.
    assert abs(np.mean(radius <= 0.5) - 0.25) < 0.03


@pytest.mark.parametrize("norm", ["inf", 2])
def test_pgd_increases_the_loss_within_the_ball(norm):
    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(size=(10, 3)), tf.float32)
    y = tf.constant(rng.integers(0, 3, 32))
    loss_fn = lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.tanh(x) @ w)
    x = tf.constant(rng.uniform(size=(32, 10)), tf.float32)
    threat = kq.ops.threat_model(0.2, norm, 0.0, 1.0)
    x_adv = kq.ops.pgd(
        loss_fn, x, threat, steps=10, step_size=0.05, x_init=threat.random_init(x, 0)
    )
    one_step = kq.ops.fgsm(loss_fn, x, threat)
    for adversarial in (x_adv, one_step):
        assert np.all(loss_fn(adversarial).numpy() >= loss_fn(x).numpy() - 1e-6)
    if norm == "inf":  # FGSM lands on a vertex of the ball, unless the box cuts it
        inside = (x.numpy() > 0.2) & (x.numpy() < 0.8)
        np.testing.assert_allclose(np.abs((one_step - x).numpy())[inside], 0.2, rtol=1e-5)
    np.testing.assert_allclose(threat.project(x, x_adv), x_adv, atol=1e-6)


def test_pgd_takes_its_first_gradient_at_an_unprojected_start_on_request():
    x = tf.constant([[0.0, 0.5, 1.0]])
    start = tf.constant([[-0.1, 0.6, 1.1]])  # in the ball, outside the box
    gradients = []

    def loss_fn(z):
        gradients.append(z)  # called at the point of the gradient
        return tf.reduce_sum(z * tf.constant([[-1.0, 1.0, 1.0]]), axis=1)

    threat = kq.ops.threat_model(0.2, "inf", 0.0, 1.0)
    kq.ops.pgd(loss_fn, x, threat, steps=1, step_size=0.05, x_init=start, project_init=False)
    np.testing.assert_allclose(gradients[-1], start)
    x_adv = kq.ops.pgd(loss_fn, x, threat, steps=1, step_size=0.05, x_init=start)
    np.testing.assert_allclose(gradients[-1], [[0.0, 0.6, 1.0]])
    np.testing.assert_allclose(x_adv, [[0.0, 0.65, 1.0]], atol=1e-6)


def test_threat_model_takes_epsilon_then_norm_with_the_rest_of_the_apis_defaults():
    threat = kq.ops.threat_model(0.3)
    assert type(threat) is kq.ops.LinfBall
    assert threat.get_config() == {
        "norm": "inf",
        "epsilon": 0.3,
        "clip_min": None,
        "clip_max": None,
    }
    threat = kq.ops.threat_model(1.5, 2, 0.0, 1.0)
    assert type(threat) is kq.ops.L2Ball
    assert threat.get_config() == {"norm": 2, "epsilon": 1.5, "clip_min": 0.0, "clip_max": 1.0}
    assert kq.ops.threat_model(threat) is threat
    # 2 is a radius here as well as a norm: the new order, an l_2 ball of radius 2.
    assert kq.ops.threat_model(2, 2).get_config()["epsilon"] == 2.0


@pytest.mark.parametrize(
    "args, new, config",
    [
        (("inf", 0.3, 0.0, 1.0), "threat_model(0.3, norm='inf', ...)", ("inf", 0.3, 0.0, 1.0)),
        ((2, 1.5), "threat_model(1.5, norm=2, ...)", (2, 1.5, None, None)),
        ((np.inf, 0.1), "threat_model(0.1, norm='inf', ...)", ("inf", 0.1, None, None)),
    ],
)
def test_threat_model_in_the_old_order_warns_and_says_what_to_write(args, new, config):
    with pytest.warns(DeprecationWarning) as record:
        threat = kq.ops.threat_model(*args)
    assert len(record) == 1
    assert str(record[0].message) == (
        f"kq.ops.threat_model takes `epsilon` first, then `norm`: write {new} instead of "
        f"threat_model({args[0]!r}, {args[1]!r}, ...). The old order will be removed in the "
        "next release."
    )
    assert record[0].filename == __file__
    assert tuple(threat.get_config().values()) == config


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kq.ops.threat_model(0.1, "l1"),
            "Expected `norm` to be \"inf\" (or np.inf) or 2. Received: norm='l1'",
        ),
        (
            lambda: kq.ops.threat_model(float("nan")),
            "Expected `epsilon` to be a finite positive number. Received: epsilon=nan",
        ),
        (
            lambda: kq.ops.threat_model("inf"),
            "Expected `epsilon` to be a finite positive number. Received: epsilon='inf'",
        ),
        (
            lambda: kq.ops.threat_model(0.1, clip_min=0.0),
            "Expected `clip_min` and `clip_max` to be both set or both None. "
            "Received: clip_min=0.0, clip_max=None",
        ),
        (
            lambda: kq.ops.threat_model(0.1, "inf", 1.0, 0.0),
            "Expected `clip_min` < `clip_max`. Received: clip_min=1.0, clip_max=0.0",
        ),
        (
            lambda: kq.ops.LinfBall(0.1).random_init(tf.zeros((1, 2)), tf.constant([1, 2, 3])),
            "Expected `seed` to be an integer or an integer tensor of shape (2,). "
            "Received: seed.shape=(3,)",
        ),
    ],
)
def test_threat_model_validates(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


def test_the_old_homes_of_the_ascent_ops_and_input_gradient_warn():
    import importlib
    import sys

    sys.modules.pop("keras_quadreg.ops.attacks", None)
    with pytest.warns(DeprecationWarning) as record:
        old = importlib.import_module("keras_quadreg.ops.attacks")
    assert str(record[0].message) == (
        "`keras_quadreg.ops.attacks` is deprecated and will be removed in the next release; "
        "use `keras_quadreg.ops.ascent`."
    )
    assert (old.pgd, old.fgsm) == (kq.ops.ascent.pgd, kq.ops.ascent.fgsm)
    with pytest.warns(DeprecationWarning, match="keras_quadreg.ops.gradients.input_gradient"):
        assert kq.ops.hessian.input_gradient is kq.ops.gradients.input_gradient
    assert kq.ops.input_gradient is kq.ops.gradients.input_gradient

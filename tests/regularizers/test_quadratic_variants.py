"""QuadraticAdversarial's variants: expansion point, objective, curvature scale."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg._losses import PerExampleLoss
from tests.conftest import LITERAL, assert_two_replicas_match_one_device

SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

VARIANTS = [
    dict(expansion_point=point, objective=objective, hvp=hvp, iterations=iterations)
    for point, objective, hvp, iterations in itertools.product(
        ["input", "random"],
        ["quadratic", "excess_loss", "adversarial"],
        ["reverse_over_reverse", "secant"],
        [1, 2],
    )
]


def _id(variant):
    return "-".join(str(v) for v in variant.values())


def _concave_model(k=10.0):
    """Two logits `(s, -s)` with `s = k ||x||^2`: for label 0 the loss
    `softplus(-4 k ||x||^2)` has a small gradient and a strongly negative
    Hessian near 0, so `q` at the Frank-Wolfe vertex is negative."""
    inputs = keras.Input((6,))
    s = keras.layers.Lambda(lambda x: k * keras.ops.sum(x**2, axis=-1, keepdims=True))(inputs)
    outputs = keras.layers.Concatenate()([s, -s])
    return kq.QuadRegModel(inputs, outputs)


def _step(model, x, y):
    return kq.TrainingStep(model, x, y, None, PerExampleLoss(SPARSE_LOGITS), tf.constant(3))


@pytest.mark.parametrize("variant", VARIANTS, ids=_id)
def test_penalty_is_never_negative_where_the_curvature_is(variant):
    model = _concave_model()
    x = tf.constant(np.random.default_rng(0).uniform(-0.02, 0.02, (8, 6)), tf.float32)
    y = tf.zeros(8, tf.int64)
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    # The construction works: the literal one-step quadratic is negative everywhere.
    quadratic = kq.ops.LocalQuadratic(loss_fn, x)
    raw = quadratic(kq.ops.frank_wolfe(quadratic, kq.ops.LinfBall(0.5), iterations=1))
    assert np.all(raw.numpy() < 0)

    regularizer = kq.regularizers.QuadraticAdversarial(0.5, seed=0, **variant)
    terms = regularizer.compute(_step(model, x, y))
    if variant["objective"] == "adversarial":
        assert terms.penalty is None and not regularizer.has_penalty
    else:
        assert np.all(terms.penalty.numpy() >= 0)


def test_worst_case_quadratic_keeps_zero_when_every_iterate_descends():
    model = _concave_model()
    x = tf.constant(np.random.default_rng(1).uniform(-0.02, 0.02, (5, 6)), tf.float32)
    y = tf.zeros(5, tf.int64)
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    delta, value = kq.ops.worst_case_quadratic(loss_fn, x, epsilon=0.5, norm="inf", iterations=1)
    np.testing.assert_array_equal(delta, np.zeros((5, 6)))
    np.testing.assert_array_equal(value, np.zeros(5))


def _mlp_step(seed=0):
    rng = np.random.default_rng(seed)
    inputs = keras.Input((6,))
    model = kq.QuadRegModel(
        inputs, keras.layers.Dense(4)(keras.layers.Dense(9, activation="tanh")(inputs))
    )
    x = tf.constant(rng.random((10, 6)), tf.float32)
    y = tf.constant(rng.integers(0, 4, 10))
    return model, x, y, _step(model, x, y)


def _forward_inputs(step):
    seen = []
    original = step.forward
    step.forward = lambda inputs: seen.append(inputs) or original(inputs)
    return seen


def test_secant_products_make_frank_wolfe_follow_the_true_gradient():
    """With secant products, `g + H delta` is the gradient at `x + delta`."""
    model, x, y, _ = _mlp_step()
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    quadratic = kq.ops.LocalQuadratic(loss_fn, x, hvp="secant")
    delta = 0.2 * tf.sign(quadratic.gradient)
    _, shifted = kq.ops.input_gradient(loss_fn, x + delta)
    np.testing.assert_allclose(quadratic.gradient + quadratic.hvp(delta), shifted, atol=1e-6)
    # q(delta) is the trapezoid estimate of the excess loss.
    trapezoid = 0.5 * tf.reduce_sum((quadratic.gradient + shifted) * delta, 1)
    np.testing.assert_allclose(quadratic(delta), trapezoid, rtol=1e-5)


def test_excess_loss_penalizes_the_true_loss_at_the_quadratics_worst_case():
    model, x, y, step = _mlp_step()
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    regularizer = kq.regularizers.QuadraticAdversarial(
        0.2,
        iterations=2,
        objective="excess_loss",
        weight=2.0,
        expansion_point="input",
        hvp="reverse_over_reverse",
    )
    terms = regularizer.compute(step)
    quadratic = kq.ops.LocalQuadratic(loss_fn, x)
    delta = kq.ops.frank_wolfe(quadratic, kq.ops.LinfBall(0.2), iterations=2)
    expected = np.maximum(loss_fn(x + delta) - loss_fn(x), 0.0)
    np.testing.assert_allclose(terms.penalty, expected, rtol=1e-5, atol=1e-7)
    assert terms.weight == 2.0
    np.testing.assert_allclose(terms.loss_y_pred, model(x), rtol=1e-6)


def test_adversarial_objective_trains_on_a_feasible_point_from_a_random_expansion():
    model, x, y, step = _mlp_step()
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    regularizer = kq.regularizers.QuadraticAdversarial(
        0.1,
        iterations=2,
        hvp="secant",
        objective="adversarial",
        expansion_point="random",
        clip_min=0.0,
        clip_max=1.0,
        seed=3,
    )
    seen = _forward_inputs(step)
    terms = regularizer.compute(step)
    (x_adv,) = seen
    assert np.abs(x_adv - x).max() <= 0.1 + 1e-6
    assert x_adv.numpy().min() >= 0.0 and x_adv.numpy().max() <= 1.0
    # By hand: the quadratic at a random point x0 of the ball, two Frank-Wolfe
    # steps toward vertices of the ball around x, the second from grad(x0 + s0).
    threat = regularizer.threat_model
    x0 = threat.clip(x + threat.random_perturbation(x.shape, regularizer.step_seed(step)))
    _, g0 = kq.ops.input_gradient(loss_fn, x0)
    s0 = x + threat.lmo(g0, x) - x0
    _, g1 = kq.ops.input_gradient(loss_fn, x0 + s0)
    s1 = x + threat.lmo(g1, x) - x0
    np.testing.assert_allclose(x_adv, x0 + s0 + 2 / 3 * (s1 - s0), atol=1e-6)  # gamma_1 = 2 / 3
    np.testing.assert_allclose(terms.y_pred, model(x), rtol=1e-6)
    np.testing.assert_allclose(terms.loss_y_pred, model(x_adv), rtol=1e-6)
    assert terms.penalty is None


def test_random_expansion_points_are_seeded_per_step():
    model, x, y, step = _mlp_step()
    build = lambda seed: kq.regularizers.QuadraticAdversarial(
        0.1, objective="excess_loss", expansion_point="random", seed=seed
    )
    first = build(5).compute(step).penalty
    np.testing.assert_array_equal(first, build(5).compute(_step(model, x, y)).penalty)
    assert not np.array_equal(first, build(6).compute(_step(model, x, y)).penalty)


@pytest.mark.parametrize("variant", VARIANTS[::3] + VARIANTS[-1:], ids=_id)
def test_variant_round_trips_through_config_and_keras_file(variant, tmp_path):
    regularizer = kq.regularizers.QuadraticAdversarial(
        0.1, clip_min=0.0, clip_max=1.0, seed=1, **variant
    )
    config = regularizer.get_config()
    assert {k: config[k] for k in variant} == variant
    assert (
        kq.regularizers.deserialize(kq.regularizers.serialize(regularizer)).get_config() == config
    )
    inputs = keras.Input((6,))
    model = kq.QuadRegModel(inputs, keras.layers.Dense(3)(inputs), regularizer=regularizer)
    model.compile("adam", SPARSE_LOGITS)
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").regularizer.get_config() == config


MODES = {
    "eager": dict(run_eagerly=True),
    "graph": dict(jit_compile=False),
    "xla": dict(jit_compile=True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "variant",
    [
        dict(objective="excess_loss", hvp="secant", iterations=2, expansion_point="random"),
        dict(objective="adversarial", hvp="secant", iterations=2, expansion_point="random"),
        dict(
            objective="quadratic",
            hvp="reverse_over_reverse",
            iterations=2,
            expansion_point="random",
        ),
    ],
    ids=_id,
)
def test_variant_trains_in_every_mode(variant, mode):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 32)
    inputs = keras.Input((6, 6, 1))
    hidden = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    model = kq.QuadRegModel(
        inputs,
        keras.layers.Dense(3)(hidden),
        regularizer=kq.regularizers.QuadraticAdversarial(
            0.1, clip_min=0.0, clip_max=1.0, seed=0, **variant
        ),
    )
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"], **MODES[mode])
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert all(np.all(np.isfinite(v)) for v in history.values())
    expected = {"accuracy", "clean_loss", "loss"}
    if variant["objective"] != "adversarial":
        expected.add("quadratic_adversarial")
        np.testing.assert_allclose(
            history["loss"],
            np.add(history["clean_loss"], history["quadratic_adversarial"]),
            rtol=1e-5,
        )
    assert set(history) == expected


@pytest.mark.parametrize(
    "variant",
    [
        dict(objective="excess_loss", hvp="secant", iterations=2, expansion_point="random"),
        dict(objective="adversarial", hvp="secant", iterations=2, expansion_point="random"),
    ],
    ids=_id,
)
def test_variant_on_two_replicas_equals_one_device(variant):
    rng = np.random.default_rng(0)

    def build():
        inputs = keras.Input((6,))
        model = kq.QuadRegModel(
            inputs,
            keras.layers.Dense(3)(keras.layers.Dense(8, activation="tanh")(inputs)),
            regularizer=kq.regularizers.QuadraticAdversarial(
                0.1, clip_min=0.0, clip_max=1.0, seed=0, **variant
            ),
        )
        model.compile(keras.optimizers.SGD(0.1), SPARSE_LOGITS, metrics=["accuracy"])
        return model

    assert_two_replicas_match_one_device(
        build, rng.random((16, 6)).astype("float32"), rng.integers(0, 3, 16)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(expansion_point="corner"),
            r"Expected `expansion_point` to be one of \['input', 'random'\]. Received: "
            r"expansion_point='corner'",
        ),
        (
            dict(objective="loss"),
            r"Expected `objective` to be one of \['quadratic', 'excess_loss', 'adversarial'\]. "
            r"Received: objective='loss'",
        ),
        (dict(hvp="exact"), "Received: hvp='exact'"),
        (
            dict(objective="excess_loss", second_order_weight=0.0),
            r"apply only with objective='quadratic'. Received: objective='excess_loss', "
            r"first_order_weight=1.0, second_order_weight=0.0",
        ),
        (
            dict(objective="adversarial", weight=0.5),
            r"leave `weight` at 1. Received: objective='adversarial', weight=0.5",
        ),
        (dict(seed=-1), "Received: seed=-1"),
    ],
)
def test_variant_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kq.regularizers.QuadraticAdversarial(0.1, **kwargs)


@pytest.mark.heavy
def test_defaults_make_a_short_mnist_training_robust_where_the_literal_form_does_not(mnist_subset):
    from tests.conftest import small_cnn

    (x_train, y_train), (x_test, y_test) = mnist_subset
    accuracy = {}
    for name, options in (("default", {}), ("literal", LITERAL)):
        keras.utils.set_random_seed(0)
        inputs, outputs = small_cnn()
        model = kq.QuadRegModel(
            inputs,
            outputs,
            regularizer=kq.regularizers.QuadraticAdversarial(
                0.3, clip_min=0.0, clip_max=1.0, seed=0, **options
            ),
        )
        model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"])
        model.fit(
            x_train,
            y_train,
            batch_size=64,
            epochs=6,
            verbose=0,
            callbacks=[kq.callbacks.RegularizerSchedule(ramp_epochs=3, epsilon=0.3)],
        )
        report = kq.evaluate_robustness(
            model, (x_test[:256], y_test[:256]), epsilon=0.3, attacks=["pgd"], seed=0, verbose=0
        )
        accuracy[name] = report.attacks["pgd"].accuracy
    # Measured: default 30.5 %, literal 9.4 % (PGD-20 on 256 test images).
    assert accuracy["default"] >= 0.2, accuracy
    assert accuracy["default"] - accuracy["literal"] >= 0.12, accuracy

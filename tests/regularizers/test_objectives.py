"""Each objective's terms against an independent computation, and training on MNIST."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg._losses import PerExampleLoss
from tests.conftest import literal_quadreg, small_cnn

SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    inputs = keras.Input((6,))
    model = kq.QuadRegModel(
        inputs, keras.layers.Dense(4)(keras.layers.Dense(9, activation="tanh")(inputs))
    )
    x = tf.constant(rng.random((10, 6)), tf.float32)
    y = tf.constant(rng.integers(0, 4, 10))
    step = kq.TrainingStep(model, x, y, None, PerExampleLoss(SPARSE_LOGITS), tf.constant(7))
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
    return model, x, y, step, loss_fn


def _gradient(loss_fn, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(loss_fn(x))
    return tape.gradient(total, x).numpy()


def test_quadratic_adversarial_penalty_is_the_weighted_worst_case_quadratic():
    model, x, _, step, loss_fn = _setup()
    regularizer = literal_quadreg(
        0.2, iterations=3, first_order_weight=0.5, second_order_weight=2.0, weight=3.0
    )
    terms = regularizer.compute(step)
    quadratic = kq.ops.LocalQuadratic(loss_fn, x)
    delta = kq.ops.frank_wolfe(quadratic, kq.ops.LinfBall(0.2), iterations=3)
    expected = 0.5 * quadratic.first_order(delta) + 2.0 * quadratic.second_order(delta)
    np.testing.assert_allclose(terms.penalty, np.maximum(expected, 0.0), rtol=1e-5)
    assert terms.weight == 3.0
    np.testing.assert_allclose(terms.y_pred, model(x), rtol=1e-6)


def test_one_iteration_quadratic_is_dual_norm_plus_curvature():
    _, x, _, step, loss_fn = _setup(1)
    terms = literal_quadreg(0.1).compute(step)
    g = _gradient(loss_fn, x)
    s = tf.constant(np.sign(g), tf.float32)
    hs = kq.ops.hvp(loss_fn, x, s).numpy()
    expected = 0.1 * np.abs(g).sum(1) + 0.005 * np.sum(np.sign(g) * hs, 1)
    np.testing.assert_allclose(terms.penalty, expected, rtol=1e-5)


@pytest.mark.parametrize("norm, squared", [(2, True), (1, False), ("inf", True)])
def test_gradient_norm_penalty(norm, squared):
    _, x, _, step, loss_fn = _setup()
    terms = kq.regularizers.GradientNorm(norm=norm, squared=squared).compute(step)
    g = _gradient(loss_fn, x)
    size = np.linalg.norm(g, ord={2: 2, 1: 1, "inf": np.inf}[norm], axis=1)
    np.testing.assert_allclose(terms.penalty, size**2 if squared else size, rtol=1e-5)


def test_cure_penalty():
    _, x, _, step, loss_fn = _setup()
    terms = kq.regularizers.CURE(h=0.5).compute(step)
    g = _gradient(loss_fn, x)
    z = np.sign(g) / np.linalg.norm(np.sign(g), axis=1, keepdims=True)
    shifted = _gradient(loss_fn, x + 0.5 * tf.constant(z, tf.float32))
    np.testing.assert_allclose(terms.penalty, np.sum((shifted - g) ** 2, 1), rtol=1e-4)


@pytest.mark.parametrize(
    "cls", [kq.regularizers.PGDAdversarialTraining, kq.regularizers.FGSMRandomStart]
)
def test_adversarial_training_trains_on_a_feasible_adversarial_batch(cls):
    model, x, y, step, loss_fn = _setup()
    regularizer = cls(0.1, clip_min=0.0, clip_max=1.0, seed=0)
    forward_inputs = []
    original = step.forward
    step.forward = lambda inputs: forward_inputs.append(inputs) or original(inputs)
    terms = regularizer.compute(step)
    (x_adv,) = forward_inputs
    assert (
        np.abs(x_adv - x).max() <= 0.1 + 1e-6
        and x_adv.numpy().min() >= 0
        and x_adv.numpy().max() <= 1
    )
    assert tf.reduce_mean(loss_fn(x_adv)) > tf.reduce_mean(loss_fn(x))
    np.testing.assert_allclose(terms.y_pred, model(x), rtol=1e-6)
    np.testing.assert_allclose(terms.loss_y_pred, model(x_adv), rtol=1e-6)
    assert terms.penalty is None and regularizer.has_penalty is False


@pytest.mark.parametrize("clip_start", [True, False])
def test_fgsm_random_start_is_one_signed_step_of_1_25_epsilon_from_its_random_start(clip_start):
    _, x, _, step, loss_fn = _setup()
    regularizer = kq.regularizers.FGSMRandomStart(
        0.1, clip_min=0.0, clip_max=1.0, seed=3, clip_start=clip_start
    )
    forward_inputs = []
    original = step.forward
    step.forward = lambda inputs: forward_inputs.append(inputs) or original(inputs)
    regularizer.compute(step)
    start = x + kq.ops.LinfBall(0.1).random_perturbation(x.shape, regularizer.step_seed(step))
    # Wong et al.'s training takes the gradient at the start outside the box.
    start = np.clip(start, 0, 1) if clip_start else start.numpy()
    assert clip_start or start.min() < 0 or start.max() > 1
    stepped = start + 0.125 * np.sign(_gradient(loss_fn, tf.constant(start, tf.float32)))
    expected = np.clip(np.clip(stepped, x - 0.1, x + 0.1), 0, 1)
    np.testing.assert_allclose(forward_inputs[0], expected, atol=1e-6)
    assert regularizer.step_size == pytest.approx(0.125)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_n_fgsm_is_one_unprojected_step_of_epsilon_from_twice_epsilon_noise(norm):
    _, x, _, step, loss_fn = _setup()
    epsilon = 0.1 if norm == "inf" else 0.5
    regularizer = kq.regularizers.NFGSM(epsilon, norm=norm, clip_min=0.0, clip_max=1.0, seed=3)
    forward_inputs = []
    original = step.forward
    step.forward = lambda inputs: forward_inputs.append(inputs) or original(inputs)
    terms = regularizer.compute(step)
    threat = kq.ops.threat_model(epsilon, norm)
    noise = 2 * threat.random_perturbation(x.shape, regularizer.step_seed(step)).numpy()
    start = np.clip(x + noise, 0, 1)
    g = _gradient(loss_fn, tf.constant(start, tf.float32))
    direction = np.sign(g) if norm == "inf" else g / np.linalg.norm(g, axis=1, keepdims=True)
    expected = np.clip(start + epsilon * direction, 0, 1)
    np.testing.assert_allclose(forward_inputs[0], expected, atol=1e-6)
    # Not projected back: the noise alone leaves the epsilon-ball.
    distance = (
        np.abs(expected - x).max(1) if norm == "inf" else np.linalg.norm(expected - x, axis=1)
    )
    assert distance.max() > 1.5 * epsilon
    assert terms.penalty is None and regularizer.step_size == pytest.approx(epsilon)


def test_n_fgsm_without_noise_is_an_unprojected_fgsm_step():
    _, x, _, step, loss_fn = _setup()
    regularizer = kq.regularizers.NFGSM(0.1, noise_magnitude=0.0, step_size=0.2, seed=0)
    forward_inputs = []
    original = step.forward
    step.forward = lambda inputs: forward_inputs.append(inputs) or original(inputs)
    regularizer.compute(step)
    expected = x + 0.2 * np.sign(_gradient(loss_fn, x))
    np.testing.assert_allclose(forward_inputs[0], expected, atol=1e-6)


def test_random_starts_are_reproducible_and_change_every_step():
    _, x, y, step, _ = _setup()
    threat = kq.ops.LinfBall(0.1)
    regularizer = kq.regularizers.PGDAdversarialTraining(0.1, seed=4)
    again = kq.regularizers.PGDAdversarialTraining(0.1, seed=4)
    first = threat.random_init(x, regularizer.step_seed(step))
    np.testing.assert_array_equal(first, threat.random_init(x, again.step_seed(step)))
    step.iteration = tf.constant(8)
    assert not np.array_equal(first, threat.random_init(x, regularizer.step_seed(step)))


def test_trades_penalty_is_the_kl_divergence_at_its_adversarial_point():
    model, x, _, step, _ = _setup()
    terms = kq.regularizers.TRADES(0.1, beta=2.0, steps=3, seed=0).compute(step)
    clean = tf.nn.softmax(model(x))
    assert terms.weight == 2.0 and np.all(terms.penalty.numpy() >= 0)
    assert np.all(terms.penalty.numpy() > 0)
    # The attack increases the divergence over the small random start it begins from.
    noise = 0.001 * tf.random.stateless_normal(
        x.shape, kq.regularizers.TRADES(0.1, seed=0).step_seed(step)
    )
    start = tf.nn.softmax(model(x + noise))
    kl_start = tf.reduce_sum(clean * (tf.math.log(clean) - tf.math.log(start)), -1)
    assert np.all(terms.penalty.numpy() >= kl_start.numpy())


def test_trades_attack_does_not_amplify_rounding():
    # Moving every weight by one float32 ulp (as another replica split or CPU
    # rounds) must not flip any sign step: when the first direction was the
    # gradient at x + 0.001 N(0, 1), this moved 2 of these 65536 pixels by
    # 0.2 and 2 penalties by 7.5 %.
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((1024, 8, 8, 1)), tf.float32)
    y = tf.constant(rng.integers(0, 3, 1024))
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, keras.layers.Dense(3)(h))

    def adversarial_inputs():
        step = kq.TrainingStep(model, x, y, None, PerExampleLoss(SPARSE_LOGITS), tf.constant(0))
        replayed = []
        replay = step.replay
        step.replay = lambda inputs: replayed.append(inputs) or replay(inputs)
        kq.regularizers.TRADES(0.1, steps=2, clip_min=0.0, clip_max=1.0, seed=1).compute(step)
        return replayed[-1].numpy()

    before = adversarial_inputs()
    up = np.float32(np.inf)
    for weight in model.trainable_weights:
        value = weight.numpy()
        weight.assign(np.nextafter(value, np.where(value >= 0, up, -up)))
    np.testing.assert_array_equal(adversarial_inputs(), before)


def test_trades_needs_to_know_about_logits():
    _, x, y, _, _ = _setup()
    inputs = keras.Input((6,))
    outputs = keras.layers.Activation("tanh")(keras.layers.Dense(4)(inputs))  # says nothing
    model = kq.QuadRegModel(inputs, outputs, regularizer=kq.regularizers.TRADES(0.1))
    model.compile("sgd", lambda y_true, y_pred: keras.ops.mean((y_pred - 1.0) ** 2, axis=-1))
    with pytest.raises(
        ValueError, match="TRADES needs to know whether the model outputs logits or probabilities"
    ):
        model.fit(x, y, verbose=0)


OBJECTIVES = {
    "standard": lambda: None,
    "quadreg_literal_k1": lambda: literal_quadreg(0.1, clip_min=0.0, clip_max=1.0),
    "quadreg_literal_k3": lambda: literal_quadreg(0.1, iterations=3, clip_min=0.0, clip_max=1.0),
    "quadreg_default": lambda: kq.regularizers.QuadraticAdversarial(
        0.1, clip_min=0.0, clip_max=1.0, seed=0
    ),
    "gradient_norm": lambda: kq.regularizers.GradientNorm(weight=0.1),
    "cure": lambda: kq.regularizers.CURE(weight=1.0, h=0.5),
    "pgd": lambda: kq.regularizers.PGDAdversarialTraining(
        0.1, steps=5, clip_min=0.0, clip_max=1.0, seed=0
    ),
    "fgsm_rs": lambda: kq.regularizers.FGSMRandomStart(0.1, clip_min=0.0, clip_max=1.0, seed=0),
    "trades": lambda: kq.regularizers.TRADES(0.1, steps=5, clip_min=0.0, clip_max=1.0, seed=0),
    "n_fgsm": lambda: kq.regularizers.NFGSM(0.1, clip_min=0.0, clip_max=1.0, seed=0),
}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_every_objective_lowers_its_loss_on_mnist(name, mnist_subset):
    (x_train, y_train), (x_test, y_test) = mnist_subset
    inputs, outputs = small_cnn()
    model = kq.QuadRegModel(inputs, outputs, regularizer=OBJECTIVES[name]())
    model.compile("adam", SPARSE_LOGITS, metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0).history
    assert history["loss"][-1] < 0.9 * history["loss"][0]
    assert model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"] > 0.5

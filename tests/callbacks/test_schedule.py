"""`RegularizerSchedule`, and the core change it needs: setting regularizer
hyperparameters (`Regularizer.update`, the `epsilon` setter) and retracing the
training step (`QuadRegModel.update_regularizer`)."""

import re

import keras
import numpy as np
import pytest

import keras_quadreg as kq
from tests.conftest import literal_quadreg, small_cnn


def first_order_model(epsilon):
    """The penalty is `epsilon * ||grad||_1` exactly: linear in epsilon."""
    inputs, outputs = small_cnn()
    regularizer = literal_quadreg(epsilon=epsilon, second_order_weight=0.0)
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    # A zero learning rate keeps the weights, so penalties are comparable.
    model.compile(
        keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def test_update_regularizer_retraces_the_training_step(mnist_subset):
    (x, y), _ = mnist_subset
    x, y = x[:32], y[:32]
    model = first_order_model(0.1)
    before = model.train_on_batch(x, y, return_dict=True)["quadratic_adversarial"]
    # Setting the attribute alone leaves the traced step as it was ...
    model.regularizer.epsilon = 0.2
    assert model.train_on_batch(x, y, return_dict=True)["quadratic_adversarial"] == pytest.approx(
        before
    )
    # ... update_regularizer retraces it.
    model.update_regularizer(epsilon=0.3)
    after = model.train_on_batch(x, y, return_dict=True)["quadratic_adversarial"]
    assert after == pytest.approx(3 * before, rel=1e-4)


def test_schedule_ramps_epsilon_and_weight_over_the_first_epochs(mnist_subset):
    (x, y), _ = mnist_subset
    inputs, outputs = small_cnn()
    regularizer = literal_quadreg(epsilon=0.3, weight=2.0)
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    schedule = kq.callbacks.RegularizerSchedule(ramp_epochs=3, epsilon=0.3, weight=2.0)
    history = model.fit(x[:64], y[:64], batch_size=32, epochs=4, callbacks=[schedule], verbose=0)
    np.testing.assert_allclose(history.history["epsilon"], [0.1, 0.2, 0.3, 0.3])
    np.testing.assert_allclose(history.history["weight"], [2 / 3, 4 / 3, 2.0, 2.0])


def test_schedule_values():
    ramp = kq.callbacks.RegularizerSchedule(
        ramp_epochs=4, start=0.2, weight=2.0, epsilon=lambda epoch: 0.1 * (epoch + 1)
    )
    np.testing.assert_allclose(
        [ramp.value("weight", e) for e in range(6)], [0.8, 1.2, 1.6, 2.0, 2.0, 2.0]
    )
    np.testing.assert_allclose([ramp.value("epsilon", e) for e in range(3)], [0.1, 0.2, 0.3])


def test_update_sets_only_tunable_hyperparameters_validated_by_the_constructor():
    regularizer = kq.regularizers.TRADES(epsilon=0.3, steps=5, clip_min=0.0, clip_max=1.0)
    assert regularizer.tunable() == ["beta", "epsilon", "step_size", "steps"]
    seed = regularizer._seed
    regularizer.update(epsilon=0.15, beta=3.0)
    assert (regularizer.epsilon, regularizer.beta, regularizer.step_size) == (0.15, 3.0, 0.075)
    assert regularizer.threat_model.clip_max == 1.0 and regularizer._seed == seed
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected `epsilon` to be a finite positive number. Received: epsilon=-1.0"
        ),
    ):
        regularizer.update(epsilon=-1.0)
    assert regularizer.epsilon == 0.15
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected hyperparameters of TRADES to update, from ['beta', 'epsilon', 'step_size', "
            "'steps']. Received: ['clip_max', 'weight']"
        ),
    ):
        regularizer.update(weight=1.0, clip_max=2.0)


def test_integer_hyperparameters_update_as_integers():
    quadratic = kq.regularizers.QuadraticAdversarial(0.3, iterations=2, seed=1)
    assert quadratic.tunable() == [
        "epsilon",
        "finite_difference_step",
        "first_order_weight",
        "iterations",
        "second_order_weight",
        "weight",
    ]
    quadratic.update(iterations=5)
    assert quadratic.iterations == 5 and type(quadratic.iterations) is int
    assert quadratic.get_config()["iterations"] == 5 and quadratic._seed == 1
    with pytest.raises(
        ValueError,
        match=re.escape("Expected `iterations` to be an integer >= 1. Received: iterations=2.5"),
    ):
        quadratic.update(iterations=2.5)
    with pytest.raises(
        ValueError,
        match=re.escape("Expected `iterations` to be an integer >= 1. Received: iterations=0"),
    ):
        quadratic.update(iterations=0)
    assert quadratic.iterations == 5
    pgd = kq.regularizers.PGDAdversarialTraining(0.3, steps=10, seed=0)
    assert "steps" in pgd.tunable() and "seed" not in pgd.tunable()
    pgd.update(steps=3, epsilon=0.15)
    # The absolute step size follows epsilon, not the number of steps.
    assert (pgd.steps, pgd.epsilon, pgd.step_size) == (3, 0.15, pytest.approx(0.0375))


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: kq.callbacks.RegularizerSchedule(ramp_epochs=3),
            "Expected at least one hyperparameter to schedule, e.g. "
            "RegularizerSchedule(ramp_epochs=5, epsilon=0.3). Received: none",
        ),
        (
            lambda: kq.callbacks.RegularizerSchedule(epsilon=0.3),
            "Expected `ramp_epochs` with a target number to ramp to. Received: ramp_epochs=None",
        ),
        (
            lambda: kq.callbacks.RegularizerSchedule(ramp_epochs=3, epsilon="0.3"),
            "Expected `epsilon` to be a target number or a callable of the epoch. "
            "Received: epsilon='0.3'",
        ),
        (
            lambda: kq.callbacks.RegularizerSchedule(ramp_epochs=3, start=1.0, epsilon=0.3),
            "Expected `start` to be in [0, 1). Received: start=1.0",
        ),
    ],
)
def test_schedule_arguments_are_validated(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_schedule_needs_a_quadreg_model_with_those_hyperparameters():
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    plain.compile("sgd", "mse")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "RegularizerSchedule changes the regularizer of a kq.QuadRegModel. "
            "Received: a Sequential with regularizer=None"
        ),
    ):
        plain.fit(
            np.zeros((2, 4)),
            np.zeros((2, 3)),
            verbose=0,
            callbacks=[kq.callbacks.RegularizerSchedule(ramp_epochs=2, epsilon=0.3)],
        )
    inputs, outputs = small_cnn()
    model = kq.QuadRegModel(inputs, outputs, regularizer=kq.regularizers.CURE())
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected hyperparameters of CURE from ['h', 'weight']. Received: ['epsilon']"
        ),
    ):
        model.fit(
            np.zeros((2, 28, 28, 1)),
            np.zeros(2),
            verbose=0,
            callbacks=[kq.callbacks.RegularizerSchedule(ramp_epochs=2, epsilon=0.3)],
        )
    with pytest.raises(
        ValueError,
        match=re.escape(
            "This QuadRegModel has no regularizer to update. Received: regularizer=None"
        ),
    ):
        kq.QuadRegModel(*small_cnn()).update_regularizer(epsilon=0.1)

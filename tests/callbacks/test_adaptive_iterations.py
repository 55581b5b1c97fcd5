"""`AdaptiveIterations` (FW-AT-Adapt): the distortion against closed forms,
the update rule at its edges, K reaching the retraced step, and resuming."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.callbacks import adaptive_iterations
from keras_quadreg.ops import quadratic as quadratic_lib

EPSILON = 0.25


def test_two_steps_reach_epsilon_where_the_signs_agree_and_a_third_where_they_flip():
    # l(x) = -sum_i (x_i - c_i)^2 from x = 0: grad_i = 2 (c_i - x_i). With
    # c_i = epsilon / 2 the first step (to +epsilon) overshoots c_i and the
    # second gradient is negative: delta_2 = epsilon / 3 - 2 epsilon / 3.
    # With c_i = 10 both gradients are positive: delta_2 = epsilon. With
    # c_i = 0 (and x_i = 0) the gradient is 0 and so is delta.
    c = np.full((2, 10), 10.0, np.float32)
    c[0, :4] = EPSILON / 2
    c[1, :3] = 0.0
    loss_fn = lambda x: -tf.reduce_sum((x - c) ** 2, axis=1)
    x = tf.zeros((2, 10))
    distortion = adaptive_iterations.frank_wolfe_distortion(loss_fn, x, EPSILON)
    np.testing.assert_allclose(distortion, [np.sqrt((6 + 4 / 9) / 10), np.sqrt(7 / 10)], rtol=1e-6)
    # One step is a vertex wherever the gradient is not 0.
    one = adaptive_iterations.frank_wolfe_distortion(loss_fn, x, EPSILON, iterations=1)
    np.testing.assert_allclose(one, [1.0, np.sqrt(7 / 10)], rtol=1e-6)


def linear_model(regularizer, weight_difference):
    """Two-class logistic regression on 4x4 images: the input gradient of
    the cross-entropy is `(p_1 - y_1)(w_1 - w_0)`, of fixed signs, so every
    Frank-Wolfe step takes the same vertex and the distortion is
    sqrt(nonzero entries of w_1 - w_0 / 16)."""
    inputs = keras.Input((4, 4, 1))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(inputs))
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    kernel = np.zeros((16, 2), np.float32)
    kernel[:, 1] = weight_difference
    model.layers[-1].set_weights([kernel, np.zeros(2, np.float32)])
    model.compile(
        keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def probe(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, 4, 4, 1)).astype(np.float32)
    x[:, 0] = 0.0  # saturated pixels: the probe ignores the box, as the paper's attack
    x[:, 1] = 1.0
    return x, rng.integers(0, 2, n)


def quadreg(**kwargs):
    return kq.regularizers.QuadraticAdversarial(
        EPSILON, clip_min=0.0, clip_max=1.0, seed=0, **kwargs
    )


def test_the_probe_measures_the_mean_distortion_of_the_compiled_loss():
    difference = np.linspace(-1.0, 1.0, 16).astype(np.float32)
    difference[[2, 5, 11]] = 0.0
    model = linear_model(quadreg(), difference)
    callback = kq.callbacks.AdaptiveIterations(probe(), batch_size=20)
    callback.set_model(model)
    assert callback.measure() == pytest.approx(np.sqrt(13 / 16), rel=1e-6)


@pytest.mark.parametrize(
    "previous, distortion, expected",
    [
        (4, 0.9, 6),  # at the threshold: more steps
        (4, np.nextafter(0.9, 1.0), 2),  # just above it: half
        (5, 0.95, 2),  # floor(5 / 2)
        (1, 0.95, 1),  # never below 1
        (14, 0.5, 15),  # never above max_iterations
        (15, 0.0, 15),
    ],
)
def test_update_rule_at_the_threshold_and_bounds(previous, distortion, expected):
    assert (
        adaptive_iterations.next_iterations(
            previous, distortion, threshold=0.9, increase=2, max_iterations=15
        )
        == expected
    )


def count_hvps(monkeypatch):
    """Records `(iterations, Hessian-vector products)` of each traced step."""
    traces, products = [], []
    hvp, compute = quadratic_lib.LocalQuadratic.hvp, kq.regularizers.QuadraticAdversarial.compute

    def counted_hvp(self, v):
        products.append(1)
        return hvp(self, v)

    def counted_compute(self, step):
        products.clear()
        terms = compute(self, step)
        traces.append((self.iterations, len(products)))
        return terms

    monkeypatch.setattr(quadratic_lib.LocalQuadratic, "hvp", counted_hvp)
    monkeypatch.setattr(kq.regularizers.QuadraticAdversarial, "compute", counted_compute)
    return traces


def test_k_grows_in_the_retraced_step_while_the_distortion_is_at_most_the_threshold(
    monkeypatch,
):
    traces = count_hvps(monkeypatch)
    model = linear_model(quadreg(), np.ones(16, np.float32))
    x, y = probe(64, seed=1)
    # The distortion is 1: with r = 1 it never exceeds the threshold.
    callback = kq.callbacks.AdaptiveIterations(probe(), threshold=1.0, max_iterations=6)
    history = model.fit(x, y, batch_size=32, epochs=4, callbacks=[callback], verbose=0)
    assert history.history["iterations"] == [3, 5, 6, 6]
    np.testing.assert_allclose(history.history["fw_distortion"], 1.0, rtol=1e-6)
    # Each K is traced once, with K - 1 products (Frank-Wolfe steps after the first).
    assert sorted(set(traces)) == [(3, 2), (5, 4), (6, 5)]


def test_k_halves_while_the_distortion_exceeds_the_threshold():
    model = linear_model(
        kq.regularizers.PGDAdversarialTraining(EPSILON, steps=10, seed=0), np.ones(16, np.float32)
    )
    x, y = probe(64, seed=1)
    callback = kq.callbacks.AdaptiveIterations(
        probe(), initial_iterations=9, hyperparameter="steps"
    )
    history = model.fit(x, y, batch_size=32, epochs=4, callbacks=[callback], verbose=0)
    assert history.history["steps"] == [4, 2, 1, 1] and model.regularizer.steps == 1


def test_get_config_round_trip(tmp_path):
    callback = kq.callbacks.AdaptiveIterations(
        probe(),
        threshold=0.8,
        max_iterations=7,
        increase=1,
        initial_iterations=3,
        num_examples=32,
        probe_iterations=3,
        batch_size=16,
        hyperparameter="steps",
        state_path=tmp_path / "state.json",
        verbose=1,
    )
    config = callback.get_config()
    assert config["state_path"] == str(tmp_path / "state.json")
    assert json.loads(json.dumps(config)) == config
    assert kq.callbacks.AdaptiveIterations(probe(), **config).get_config() == config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(threshold=0.0),
            "Expected `threshold` to be a number in (0, 1], a ratio to the largest distortion, "
            "1. Received: threshold=0.0",
        ),
        (
            dict(threshold=1.5),
            "Expected `threshold` to be a number in (0, 1], a ratio to the largest distortion, "
            "1. Received: threshold=1.5",
        ),
        (
            dict(max_iterations=0),
            "Expected `max_iterations` to be an integer >= 1. Received: max_iterations=0",
        ),
        (dict(increase=1.5), "Expected `increase` to be an integer >= 1. Received: increase=1.5"),
        (
            dict(initial_iterations=16),
            "Expected `initial_iterations` to be at most `max_iterations`. "
            "Received: initial_iterations=16, max_iterations=15",
        ),
        (
            dict(num_examples=0),
            "Expected `num_examples` to be an integer >= 1. Received: num_examples=0",
        ),
        (
            dict(probe_iterations=0),
            "Expected `probe_iterations` to be an integer >= 1. Received: probe_iterations=0",
        ),
        (
            dict(hyperparameter=3),
            "Expected `hyperparameter` to be the name of an integer hyperparameter of the "
            "regularizer, e.g. 'iterations'. Received: hyperparameter=3",
        ),
        (
            dict(state_path=3),
            "Expected `state_path` to be a file path or None. Received: state_path=3",
        ),
        (dict(verbose=2), "Expected `verbose` to be 0 or 1. Received: verbose=2"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kq.callbacks.AdaptiveIterations(probe(), **kwargs)


@pytest.mark.parametrize(
    "regularizer, kwargs, message",
    [
        (
            None,
            {},
            "AdaptiveIterations sets the number of steps of a kq.QuadRegModel's regularizer. "
            "Received: a QuadRegModel with regularizer=None",
        ),
        (
            quadreg(),
            dict(hyperparameter="weight"),
            "Expected `hyperparameter` to be an integer hyperparameter of QuadraticAdversarial, "
            "from ['iterations']. Received: hyperparameter='weight'",
        ),
        (
            kq.regularizers.QuadraticAdversarial(1.0, norm=2, seed=0),
            {},
            "AdaptiveIterations measures the distortion of l_inf Frank-Wolfe attacks: expected "
            "a regularizer with an l_inf threat model. Received: QuadraticAdversarial with "
            "norm=2",
        ),
    ],
)
def test_models_it_cannot_adapt_are_rejected_before_training(regularizer, kwargs, message):
    model = linear_model(regularizer, np.ones(16, np.float32))
    x, y = probe(8)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(x, y, verbose=0, callbacks=[kq.callbacks.AdaptiveIterations((x, y), **kwargs)])


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    x, y = probe(64, seed=1)
    difference = np.ones(16, np.float32)

    def fit(folder, *extra, epochs=4):
        keras.utils.set_random_seed(0)
        model = linear_model(quadreg(), difference)
        callbacks = [
            kq.callbacks.AdaptiveIterations(
                probe(), threshold=1.0, state_path=folder / "backup" / "adaptive.json"
            ),
            keras.callbacks.BackupAndRestore(str(folder / "backup")),
            *extra,
        ]
        history = model.fit(x, y, batch_size=32, epochs=epochs, callbacks=callbacks, verbose=0)
        return model, history.history

    whole, whole_history = fit(tmp_path / "whole")
    assert whole_history["iterations"] == [3, 5, 7, 9]
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(tmp_path / "resumed", Interrupt())
    state = json.loads((tmp_path / "resumed" / "backup" / "adaptive.json").read_text())
    assert [state["epochs"][e]["iterations"] for e in ("0", "1")] == [3, 5]
    resumed, resumed_history = fit(tmp_path / "resumed")
    # Epochs 3 and 4 continue from K = 5, not from initial_iterations.
    assert resumed_history["iterations"] == [7, 9]
    np.testing.assert_array_equal(
        resumed_history["fw_distortion"], whole_history["fw_distortion"][2:]
    )
    np.testing.assert_array_equal(resumed_history["loss"], whole_history["loss"][2:])
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)

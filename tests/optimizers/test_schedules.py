"""Learning-rate schedules: values at given steps, configs, and the optimizers they drive."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq


def _values(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_triangular_cycle_rises_to_its_peak_and_falls_to_zero():
    schedule = kq.optimizers.TriangularCyclic(5e-3, total_steps=100, peak_fraction=0.4)
    np.testing.assert_allclose(
        _values(schedule, [0, 20, 40, 70, 100, 150]),
        [0.0, 2.5e-3, 5e-3, 2.5e-3, 0.0, 0.0],
        atol=1e-9,
    )


def test_wong_et_al_mnist_schedule_matches_their_interpolation():
    # lr_schedule(t) = np.interp(t, [0, epochs * 2 // 5, epochs], [0, lr_max, 0]) of
    # locuslab/fast_adversarial, t in epochs; 600 steps an epoch of 10.
    schedule = kq.optimizers.learning_rate_schedule("cyclic", 5e-3, epochs=10, steps_per_epoch=600)
    steps = np.arange(0, 6000, 37)
    expected = np.interp(steps / 600, [0, 4, 10], [0, 5e-3, 0])
    np.testing.assert_allclose(_values(schedule, steps), expected, atol=1e-8)


@pytest.mark.parametrize(
    "peak_fraction, expected",
    [(0.0, [1.0, 0.5, 0.0]), (1.0, [0.2, 0.6, 0.0])],
    ids=["peak_first", "peak_last"],
)
def test_peak_at_either_end(peak_fraction, expected):
    schedule = kq.optimizers.TriangularCyclic(
        1.0, 10, peak_fraction=peak_fraction, initial_learning_rate=0.2
    )
    np.testing.assert_allclose(_values(schedule, [0, 5, 10]), expected, atol=1e-7)


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_cycle_in_every_mode(mode):
    schedule = kq.optimizers.TriangularCyclic(1.0, 10, final_learning_rate=0.1)
    call = schedule if mode == "eager" else tf.function(schedule, jit_compile=mode == "xla")
    np.testing.assert_allclose(
        [float(call(tf.constant(s))) for s in (2, 4, 7, 12)], [0.5, 1.0, 0.55, 0.1], atol=1e-6
    )


def test_cycle_config_round_trip_and_saved_with_the_optimizer(tmp_path):
    schedule = kq.optimizers.TriangularCyclic(3e-3, 50, peak_fraction=0.3, final_learning_rate=1e-5)
    restored = kq.optimizers.TriangularCyclic.from_config(schedule.get_config())
    assert restored.get_config() == schedule.get_config()
    assert schedule.get_config() == {
        "maximal_learning_rate": 3e-3,
        "total_steps": 50,
        "peak_fraction": 0.3,
        "initial_learning_rate": 0.0,
        "final_learning_rate": 1e-5,
        "name": "TriangularCyclic",
    }
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(keras.optimizers.Adam(schedule), "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    reloaded = loaded.optimizer._learning_rate
    assert isinstance(reloaded, kq.optimizers.TriangularCyclic)
    assert reloaded.get_config() == schedule.get_config()


def test_piecewise_divides_at_each_milestone():
    schedule = kq.optimizers.learning_rate_schedule(
        "piecewise", 0.1, epochs=10, steps_per_epoch=10, milestones=(5, 7.5), decay=0.1
    )
    np.testing.assert_allclose(
        _values(schedule, [0, 49, 50, 74, 75, 99]), [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3], rtol=1e-6
    )


def test_cosine_warms_up_linearly_then_decays_to_zero():
    schedule = kq.optimizers.learning_rate_schedule(
        "cosine", 0.2, epochs=10, steps_per_epoch=10, warmup_epochs=2
    )
    warm = _values(schedule, [0, 10, 20])
    np.testing.assert_allclose(warm, [0.0, 0.1, 0.2], atol=1e-7)
    decay = _values(schedule, [60, 100])
    np.testing.assert_allclose(decay, [0.1, 0.0], atol=1e-7)
    no_warmup = kq.optimizers.learning_rate_schedule("cosine", 0.2, epochs=10, steps_per_epoch=10)
    np.testing.assert_allclose(_values(no_warmup, [0, 50, 100]), [0.2, 0.1, 0.0], atol=1e-7)


def test_constant_is_a_float():
    assert (
        kq.optimizers.learning_rate_schedule("constant", 1e-3, epochs=3, steps_per_epoch=7) == 1e-3
    )


def test_optimizers_take_the_schedule_and_decoupled_weight_decay():
    schedule = kq.optimizers.TriangularCyclic(1.0, 10)
    sgd = kq.optimizers.optimizer("sgd", schedule, weight_decay=5e-4)
    assert isinstance(sgd, keras.optimizers.SGD)
    assert (sgd.momentum, sgd.nesterov, sgd.weight_decay) == (0.9, True, 5e-4)
    assert sgd._learning_rate is schedule
    adam = kq.optimizers.optimizer("adam", 1e-3)
    assert isinstance(adam, keras.optimizers.Adam) and adam.weight_decay is None


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: kq.optimizers.TriangularCyclic(0.0, 10),
            "Expected `maximal_learning_rate` to be a finite positive number. "
            "Received: maximal_learning_rate=0.0",
        ),
        (
            lambda: kq.optimizers.TriangularCyclic(1.0, 0),
            "Expected `total_steps` to be an integer >= 1. Received: total_steps=0",
        ),
        (
            lambda: kq.optimizers.TriangularCyclic(1.0, 10, peak_fraction=1.5),
            "Expected `peak_fraction` in [0, 1]. Received: peak_fraction=1.5",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule("step", 0.1, epochs=1, steps_per_epoch=1),
            "Expected `schedule` to be one of",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "piecewise", 0.1, epochs=10, steps_per_epoch=1, milestones=(8, 4)
            ),
            "Expected `milestones` to be increasing epochs within the 10 of training for the "
            "'piecewise' schedule. Received: milestones=[8.0, 4.0]",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "piecewise", 0.1, epochs=10, steps_per_epoch=1, milestones=(5,), decay=2
            ),
            "Expected `decay` in (0, 1]. Received: decay=2.0",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "cosine", 0.1, epochs=3, steps_per_epoch=1, warmup_epochs=3
            ),
            "Expected `warmup_epochs` to end before the 3 epochs (3 steps) of training do; it "
            "lasts 3 steps. Received: warmup_epochs=3",
        ),
        (
            lambda: kq.optimizers.optimizer("sgd", 0.1, weight_decay=-1),
            "Expected `weight_decay` to be a finite non-negative number. Received: weight_decay=-1",
        ),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert message in str(error.value)

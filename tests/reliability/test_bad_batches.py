"""A bad batch stops training with the same error in eager, graph and XLA mode,
and under XLA (which compiles assertions away) leaves the model as it was."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.models import _checks
from tests.conftest import literal_quadreg

MODES = {
    "eager": dict(run_eagerly=True),
    "graph": dict(jit_compile=False),
    "xla": dict(jit_compile=True),
}
rng = np.random.default_rng(0)
X = rng.random((16, 6, 6, 1)).astype("float32")
Y = rng.integers(0, 10, 16)


def _model(mode, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    h = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3)(inputs))
    h = keras.layers.Dropout(0.2)(keras.layers.Flatten()(h))
    model = kq.QuadRegModel(
        inputs,
        keras.layers.Dense(10)(h),
        regularizer=literal_quadreg(0.1, clip_min=0.0, clip_max=1.0),  # a penalty: the most state
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), **MODES[mode]
    )
    model.fit(X[:8], Y[:8], verbose=0)  # builds the optimizer; a first valid step
    return model


def _state(model):
    return [
        v.numpy().copy() for v in model.weights + model._rng_states() + model.optimizer.variables
    ]


def _with(array, index, value):
    array = np.array(array, dtype=np.float32 if isinstance(value, float) else array.dtype)
    array.flat[index] = value
    return array


CASES = {
    "nan pixel": (_with(X, 5, np.nan), Y, None, _checks.NON_FINITE_INPUTS),
    "inf pixel": (_with(X, 40, np.inf), Y, None, _checks.NON_FINITE_INPUTS),
    "label 10 of 10 classes": (X, _with(Y, 3, 10), None, _checks.LABEL_TOO_LARGE.format(10)),
    "label -1": (X, _with(Y, 3, -1), None, _checks.LABEL_BELOW_ZERO),
    "label 2.5": (X, _with(Y, 3, 2.5), None, _checks.LABEL_NOT_INTEGER),
    "nan label": (X, _with(Y, 3, np.nan), None, _checks.NON_FINITE_TARGETS),
    "inputs in [0, 255] for a [0, 1] box": (X * 255, Y, None, _checks.OUTSIDE_BOX.format(0.0, 1.0)),
    "input below the box": (X - 0.5, Y, None, _checks.OUTSIDE_BOX.format(0.0, 1.0)),
    "nan sample weight": (X, Y, _with(np.ones(16), 2, np.nan), _checks.BAD_SAMPLE_WEIGHT),
    "negative sample weight": (X, Y, _with(np.ones(16), 2, -1.0), _checks.BAD_SAMPLE_WEIGHT),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", MODES)
def test_a_bad_batch_raises_the_same_error_in_every_mode(mode, case):
    x, y, sample_weight, message = CASES[case]
    model = _model(mode)
    before = _state(model)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)) as error:
        model.fit(x, y, sample_weight=sample_weight, batch_size=16, verbose=0)
    if mode == "xla":
        assert error.value.message == message
        # Weights, batch-norm statistics, dropout RNG and optimizer state.
        for a, b in zip(before, _state(model)):
            np.testing.assert_array_equal(a, b)


def test_under_xla_the_steps_before_a_bad_batch_count_and_it_does_not():
    bad = _with(X, 8 * 36 + 1, np.nan)  # in the second batch of 8
    model = _model("xla")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=f"^{re.escape(_checks.NON_FINITE_INPUTS)}$"
    ):
        model.fit(bad, Y, batch_size=8, shuffle=False, verbose=0)
    reference = _model("xla")
    reference.fit(X[:8], Y[:8], batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(_state(reference), _state(model)):
        np.testing.assert_array_equal(a, b)
    history = model.fit(X, Y, batch_size=8, verbose=0).history  # and training goes on
    assert list(history) == ["clean_loss", "loss", "quadratic_adversarial"]
    assert all(np.isfinite(v[0]) for v in history.values())

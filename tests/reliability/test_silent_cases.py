"""Inputs that used to give NaN, zeros or an empty result without any error."""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.ops import quadratic
from tests.conftest import run_in_mode

SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _classifier(loss=SPARSE_LOGITS, activation=None):
    inputs = keras.Input((6,))
    model = kq.QuadRegModel(
        inputs,
        keras.layers.Dense(3, activation=activation)(inputs),
        regularizer=kq.regularizers.GradientNorm(weight=0.1),
    )
    model.compile("sgd", loss)
    return model


EMPTY_MESSAGE = (
    "Expected the training data to hold at least one batch: fit ran 2 epoch(s) without a "
    "training step (an empty array, or a dataset that yields nothing). Received: 0 training batches"
)
EMPTY_DATA = {
    "empty arrays": lambda: dict(x=np.zeros((0, 6), "float32"), y=np.zeros((0,), "int64")),
    "empty dataset": lambda: dict(
        x=tf.data.Dataset.from_tensor_slices(
            (np.zeros((0, 6), "float32"), np.zeros((0,), "int64"))
        ).batch(4)
    ),
    "dataset filtered to nothing": lambda: dict(
        x=tf.data.Dataset.from_tensor_slices((np.zeros((5, 6), "float32"), np.zeros((5,), "int64")))
        .filter(lambda x, y: False)
        .batch(4)
    ),
}


@pytest.mark.parametrize("case", EMPTY_DATA)
def test_fit_on_empty_data_raises(case):
    with pytest.raises(ValueError, match=f"^{re.escape(EMPTY_MESSAGE)}$"):
        _classifier().fit(**EMPTY_DATA[case](), epochs=2, verbose=0)


def test_fit_with_nothing_left_to_train_is_not_an_error():
    history = _classifier().fit(
        np.zeros((4, 6), "float32"), np.zeros(4), epochs=2, initial_epoch=2, verbose=0
    )
    assert history.epoch == [] and history.history == {}


LOGITS_AS_PROBABILITIES = (
    "The compiled loss has from_logits=False, so the model should output probabilities, but "
    "its outputs on zero inputs are not probability vectors (rows in [0, 1] that sum to 1): if "
    "the model outputs logits, compile with `from_logits=True`. "
    "Received: outputs[0]=[0.0, 0.0, 0.0]"
)


@pytest.mark.parametrize(
    "loss",
    [
        keras.losses.SparseCategoricalCrossentropy(from_logits=False),
        "sparse_categorical_crossentropy",
    ],
    ids=["loss object", "loss name"],
)
def test_a_logits_model_with_a_probability_loss_warns(loss):
    model = _classifier(loss)
    with pytest.warns(UserWarning, match=f"^{re.escape(LOGITS_AS_PROBABILITIES)}$"):
        model.fit(np.zeros((4, 6), "float32"), np.zeros(4), verbose=0)


@pytest.mark.parametrize(
    "loss, activation",
    [
        (keras.losses.SparseCategoricalCrossentropy(from_logits=False), "softmax"),
        (SPARSE_LOGITS, None),
    ],
    ids=["softmax outputs", "logits loss"],
)
def test_matching_outputs_and_loss_do_not_warn(loss, activation):
    model = _classifier(loss, activation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(np.zeros((4, 6), "float32"), np.zeros(4), verbose=0)


def _worst_case_at(x):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)]
    )
    loss_fn = lambda x: keras.losses.sparse_categorical_crossentropy(
        tf.constant([0, 1, 2]), model(x), from_logits=True
    )
    return lambda: kq.ops.worst_case_quadratic(
        loss_fn, tf.constant(x), epsilon=0.1, norm="inf", iterations=2
    )


def _with_nan_in_second_example(value=np.nan):
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    x[1, 2] = value
    return x


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_worst_case_quadratic_at_a_non_finite_input_raises(mode, value):
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=re.escape(quadratic.NON_FINITE_INPUTS)
    ):
        run_in_mode(_worst_case_at(_with_nan_in_second_example(value)), mode)


def test_under_xla_worst_case_quadratic_marks_non_finite_inputs_nan():
    # XLA compiles the assertion away; NaN, not keep_ascent's plausible 0, says so.
    delta, value = run_in_mode(_worst_case_at(_with_nan_in_second_example()), "xla")
    assert np.isnan(value[1]) and np.all(np.isnan(delta[1]))
    assert np.all(np.isfinite(value.numpy()[[0, 2]])) and np.all(np.isfinite(delta.numpy()[[0, 2]]))

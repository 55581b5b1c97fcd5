"""`keras_quadreg._collect`: the one collector of labeled examples that
evaluation, its callbacks and the interpretability scores share."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_quadreg import _collect


def _model():
    inputs = keras.Input((4, 4, 1))
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))


def _arrays(n=10):
    x = np.random.default_rng(0).uniform(size=(n, 4, 4, 1)).astype(np.float32)
    return x, np.arange(n) % 3


def test_every_layout_gives_the_same_arrays():
    x, y = _arrays()
    one_hot = np.eye(3, dtype=np.float32)[y]
    layouts = [
        (x, y),
        (x, y[:, None], np.ones(10)),
        tf.data.Dataset.from_tensor_slices((x, y)),
        tf.data.Dataset.from_tensor_slices((x, one_hot)).batch(4),
    ]
    for data in layouts:
        got_x, got_y = _collect.collect(data, 6, _model())
        np.testing.assert_array_equal(got_x, x[:6])
        np.testing.assert_array_equal(got_y, y[:6])
        assert (got_x.dtype, got_y.dtype) == (np.float32, np.int64)


def test_at_most_takes_what_there_is():
    x, y = _arrays(4)
    got_x, got_y = _collect.collect(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(3), 6, _model(), at_most=True
    )
    assert len(got_x) == len(got_y) == 4
    with pytest.raises(ValueError) as error:
        _collect.collect((x, y), 6, _model())
    assert (
        str(error.value)
        == "Expected at least num_examples=6 examples in `data`. Received: 4 examples"
    )


@pytest.mark.parametrize(
    "data, num_examples, message",
    [
        (
            tf.data.Dataset.from_tensor_slices(_arrays()).repeat(),
            None,
            "Expected a finite dataset, or `max_examples`. Received: an infinite dataset and "
            "max_examples=None",
        ),
        (_arrays(), 0, "Expected `max_examples` to be an integer >= 1. Received: max_examples=0"),
    ],
)
def test_messages_name_the_callers_argument(data, num_examples, message):
    with pytest.raises(ValueError) as error:
        _collect.collect(data, num_examples, _model(), at_most=True, name="max_examples")
    assert str(error.value) == message


def test_inputs_of_another_shape_are_named_with_the_models():
    with pytest.raises(ValueError) as error:
        _collect.collect((np.zeros((2, 5, 5, 1)), np.zeros(2)), model=_model())
    assert str(error.value) == (
        "Expected inputs of shape (None, 4, 4, 1), the model's input shape. Received: x.shape=(2, "
        "5, 5, 1)"
    )

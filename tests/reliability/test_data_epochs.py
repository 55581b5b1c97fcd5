"""The data of an epoch is a function of (seed, epoch): what makes a resumed run exact."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from tests.conftest import SHARED_DATA


def _load(seed=0, counter=None):
    return kq.data.load(
        "mnist", "train", 64, data_dir=SHARED_DATA, limit=256, seed=seed, epoch_counter=counter
    )


def _labels(dataset):
    return np.concatenate([y for _, y in dataset.as_numpy_iterator()])


def _orders(count, seed=0):
    """The label order of the first `count` iterations of a fresh dataset."""
    dataset = _load(seed)
    return [_labels(dataset) for _ in range(count)]


def test_an_epoch_is_drawn_from_the_seed_and_its_number_only():
    orders = _orders(3)
    for epoch in range(3):
        counter = kq.data.EpochCounter()
        counter.variable.assign(epoch)
        np.testing.assert_array_equal(_labels(_load(counter=counter)), orders[epoch])
        assert counter.variable.numpy() == epoch + 1
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], _orders(1, seed=1)[0])
    assert _load().cardinality().numpy() == 4  # known, so Keras knows the steps of an epoch


class _Recorder(keras.Model):
    """Records the labels of every training batch."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.dense(keras.ops.reshape(x, (-1, 28 * 28)))

    def train_step(self, data):
        self.seen.append(data[1].numpy())
        return {"examples": tf.size(data[1])}


@pytest.mark.parametrize("initial_epoch", [0, 2])
def test_fit_with_the_counter_as_callback_draws_its_own_epochs(initial_epoch):
    counter = kq.data.EpochCounter()
    model = _Recorder()
    model.compile(run_eagerly=True)
    model.fit(
        _load(counter=counter),
        epochs=4,
        initial_epoch=initial_epoch,
        callbacks=[counter],
        shuffle=False,
        verbose=0,
    )
    seen = np.concatenate(model.seen).reshape(4 - initial_epoch, -1)
    np.testing.assert_array_equal(seen, _orders(4)[initial_epoch:])


@pytest.mark.parametrize(
    "counter", [0, "epoch", tf.Variable(0, dtype=tf.int64)], ids=["int", "str", "variable"]
)
def test_the_epoch_counter_is_checked(counter):
    message = (
        "Expected `epoch_counter` to be a kq.data.EpochCounter or None. "
        f"Received: epoch_counter={counter!r}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _load(counter=counter)

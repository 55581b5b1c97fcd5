"""One device vs two (logical CPU) replicas with the same global batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg._losses import PerExampleLoss
from tests.conftest import ONE_DEVICE

OBJECTIVES = {
    "quadratic_adversarial": lambda: kq.regularizers.QuadraticAdversarial(
        0.1, iterations=2, clip_min=0.0, clip_max=1.0
    ),
    "pgd_adversarial_training": lambda: kq.regularizers.PGDAdversarialTraining(
        0.1, steps=3, clip_min=0.0, clip_max=1.0, seed=1
    ),
    "trades": lambda: kq.regularizers.TRADES(0.1, steps=2, clip_min=0.0, clip_max=1.0, seed=1),
}


def _train(devices, regularizer, x, y):
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(devices, cross_device_ops=ONE_DEVICE)
    with strategy.scope():
        inputs = keras.Input((8, 8, 1))
        h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(h))
        model = kq.QuadRegModel(inputs, keras.layers.Dense(3)(h), regularizer=regularizer())
        model.compile(
            keras.optimizers.SGD(0.1),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    return history, [w.numpy() for w in model.weights]


@pytest.mark.parametrize("name", OBJECTIVES)
def test_two_replicas_match_one_device(name):
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    one, weights_one = _train(["/cpu:0"], OBJECTIVES[name], x, y)
    two, weights_two = _train(["/cpu:0", "/cpu:1"], OBJECTIVES[name], x, y)
    assert set(one) == set(two)
    for key in one:
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for a, b in zip(weights_one, weights_two):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_per_example_noise_does_not_depend_on_the_replica_split():
    x = tf.reshape(tf.range(8 * 3, dtype=tf.float32), (8, 3))
    threat = kq.ops.LinfBall(0.5)
    loss = PerExampleLoss("mse")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"], cross_device_ops=ONE_DEVICE)
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    def draw(batch):
        step = kq.TrainingStep(model, batch, None, None, loss, tf.constant(0))
        return step.sample(threat.random_perturbation, tf.constant([3, 4]))

    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(8)
    )
    per_replica = strategy.run(draw, args=(next(iter(dataset)),))
    together = tf.concat(strategy.experimental_local_results(per_replica), 0)
    np.testing.assert_array_equal(
        together, threat.random_perturbation(tf.shape(x), tf.constant([3, 4]))
    )

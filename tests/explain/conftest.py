"""Small models for the explainers: a linear one with known gradients, an
untrained CNN, and MNIST models trained briefly (standard and robust)."""

import keras
import numpy as np
import pytest

import keras_quadreg as kq
from tests.conftest import small_cnn


def linear_model(weights, bias=None, head=None):
    """`Flatten -> Dense` with fixed weights `(pixels, classes)`.

    `head` adds a final `"softmax_layer"` (a separate Softmax layer) or makes
    the Dense layer apply `"softmax_activation"` itself.
    """
    pixels, classes = weights.shape
    side = int(np.sqrt(pixels))
    inputs = keras.Input((side, side, 1))
    dense = keras.layers.Dense(
        classes, activation="softmax" if head == "softmax_activation" else None
    )
    outputs = dense(keras.layers.Flatten()(inputs))
    if head == "softmax_layer":
        outputs = keras.layers.Softmax()(outputs)
    dense.set_weights([weights, np.zeros(classes) if bias is None else bias])
    return keras.Model(inputs, outputs)


def two_class_problem(norm, probability):
    """A linear two-class model, images inside a wide box, and the closed-form
    smallest radius at which the other class reaches `probability`: the
    logit gap must grow by `log(q / (1 - q)) - gap`, at `||w_t - w_o||_2` per
    unit of l_2 radius, `||w_t - w_o||_1` per unit of l_inf radius."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(16, 2)).astype(np.float32)
    model = linear_model(weights)
    x = rng.uniform(-1, 1, (6, 4, 4, 1)).astype(np.float32)
    logits = x.reshape(6, -1) @ weights
    targets = logits.argmin(axis=1)
    difference = (weights[:, targets] - weights[:, 1 - targets]).T
    gap = logits[np.arange(6), targets] - logits[np.arange(6), 1 - targets]
    rate = np.abs(difference).sum(axis=1) if norm == "inf" else np.linalg.norm(difference, axis=1)
    needed = (np.log(probability / (1 - probability)) - gap) / rate
    return model, x, targets, needed


@pytest.fixture
def cnn():
    """An untrained small Madry CNN for MNIST-shaped inputs."""
    return keras.Model(*small_cnn(), name="cnn")


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 1, (5, 28, 28, 1)).astype(np.float32)


@pytest.fixture(scope="session")
def standard_model(mnist_standard_model):
    return keras.models.load_model(mnist_standard_model)


@pytest.fixture(scope="session")
def robust_model(mnist_subset):
    """A small CNN trained 2 epochs with the quadratic regularizer (l2, 2.0)."""
    (x_train, y_train), _ = mnist_subset
    keras.utils.set_random_seed(1)
    # A seed of its own: seed=None would draw one from Python's `random`, which
    # depends on what ran before.
    regularizer = kq.regularizers.QuadraticAdversarial(
        epsilon=2.0, norm=2, clip_min=0.0, clip_max=1.0, seed=1
    )
    model = kq.QuadRegModel(*small_cnn(), regularizer=regularizer)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0)
    return model

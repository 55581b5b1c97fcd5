import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg import architectures
from tests.conftest import literal_quadreg


def _sizes(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


# Trainable parameters of the published networks: the Madry et al. MNIST
# challenge model, the MNIST network of fast adversarial training and
# PreActResNet-18 (Wong et al. 2020, RobustBench), and the WRNs of Zagoruyko &
# Komodakis (2016) as counted by their PyTorch code.
@pytest.mark.parametrize(
    "build, trainable",
    [
        (lambda: architectures.madry_cnn(), 3_274_634),
        (lambda: architectures.wong_cnn(), 166_406),
        (lambda: architectures.preact_resnet18(), 11_172_170),
        (lambda: architectures.wide_resnet(), 36_479_194),
        (lambda: architectures.wide_resnet(34, 10), 46_160_474),
        (lambda: architectures.wide_resnet(16, 10), 17_116_634),
        (lambda: architectures.wide_resnet(28, 2), 1_467_610),
        (lambda: architectures.wide_resnet(40, 2), 2_243_546),
    ],
    ids=[
        "madry_cnn",
        "wong_cnn",
        "preact_resnet18",
        "wrn_28_10",
        "wrn_34_10",
        "wrn_16_10",
        "wrn_28_2",
        "wrn_40_2",
    ],
)
def test_parameter_counts_match_the_published_networks(build, trainable):
    inputs, outputs = build()
    model = keras.Model(inputs, outputs)
    assert _sizes(model.trainable_weights) == trainable
    # The only other weights are BatchNormalization's moving mean and variance.
    batch_norms = [
        layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert _sizes(model.non_trainable_weights) == 2 * sum(
        layer.gamma.shape[0] for layer in batch_norms
    )
    assert outputs.shape == (None, 10)


@pytest.mark.parametrize(
    "build, name, pooled",
    [
        (lambda **kw: architectures.preact_resnet18(width=4, **kw), "preact_resnet18", (4, 4, 32)),
        (lambda **kw: architectures.wide_resnet(10, 2, **kw), "wrn_10_2", (8, 8, 128)),
    ],
    ids=["preact_resnet18", "wide_resnet"],
)
def test_residual_networks_shapes(build, name, pooled):
    inputs, outputs = build()
    model = keras.Model(inputs, outputs)
    assert model.get_layer(f"{name}_pool").input.shape[1:] == pooled
    logits = model(tf.random.uniform((2, 32, 32, 3), seed=0), training=False)
    assert logits.shape == (2, 10) and np.all(np.isfinite(logits))
    # Global pooling: other image sizes and class counts work too.
    inputs, outputs = build(input_shape=(28, 28, 1), num_classes=7)
    assert keras.Model(inputs, outputs)(tf.zeros((3, 28, 28, 1))).shape == (3, 7)


def test_madry_cnn_shapes():
    model = keras.Model(*architectures.madry_cnn(filters=(4, 8), dense_units=16))
    assert model.get_layer("madry_cnn_flatten").output.shape == (None, 7 * 7 * 8)
    assert model(tf.zeros((2, 28, 28, 1))).shape == (2, 10)


def test_strided_convolutions_pad_symmetrically():
    # PyTorch's padding=1: the first output of a stride-2 3x3 convolution sees
    # 2x2 input pixels and the last 3x3; Keras' "same" would give 3x3 and 2x2.
    inputs = keras.Input((6, 6, 1))
    conv = keras.Model(inputs, architectures._conv(inputs, 1, 3, 2, "conv"))
    conv.get_layer("conv").set_weights([np.ones((3, 3, 1, 1), np.float32)])
    out = conv(tf.ones((1, 6, 6, 1)))[0, :, :, 0].numpy()
    assert out[0, 0] == 4 and out[-1, -1] == 9


def test_normalization_standardizes_inside_the_model():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    inputs, outputs = architectures.preact_resnet18(width=2, normalization=(mean, std))
    model = keras.Model(inputs, outputs)
    x = tf.random.uniform((2, 32, 32, 3), seed=0)
    normalized = model.get_layer("preact_resnet18_normalization")(x)
    np.testing.assert_allclose(
        normalized, (x - np.array(mean)) / np.array(std), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: architectures.wide_resnet(depth=30),
            r"Expected `depth` such that depth - 4 is a multiple of 6 \(10, 16, 22, 28, 34, 40, "
            r"...\). Received: depth=30",
        ),
        (
            lambda: architectures.wide_resnet(width_factor=0),
            "Expected `width_factor` to be an integer >= 1. Received: width_factor=0",
        ),
        (
            lambda: architectures.wide_resnet(dropout_rate=1.0),
            r"Expected `dropout_rate` in \[0, 1\). Received: dropout_rate=1.0",
        ),
        (
            lambda: architectures.preact_resnet18(input_shape=(32, 32)),
            r"Expected `input_shape` to be \(height, width, channels\) of positive integers. "
            r"Received: input_shape=\(32, 32\)",
        ),
        (
            lambda: architectures.preact_resnet18(num_classes=1),
            "Expected `num_classes` to be an integer >= 2. Received: num_classes=1",
        ),
        (
            lambda: architectures.preact_resnet18(normalization=((0.5, 0.5), (1, 1))),
            r"Expected `normalization` to be None or \(mean, std\), each a number or 3 numbers, "
            r"with finite means and positive standard deviations. "
            r"Received: normalization=\(\(0.5, 0.5\), \(1, 1\)\)",
        ),
        (
            lambda: architectures.wide_resnet(normalization=(0.5, 0.0)),
            r"Received: normalization=\(0.5, 0.0\)",
        ),
    ],
    ids=[
        "depth",
        "width",
        "dropout",
        "input_shape",
        "num_classes",
        "normalization-length",
        "normalization-std",
    ],
)
def test_arguments_are_validated(call, message):
    with pytest.raises(
        ValueError, match=f"^{message}$" if message.startswith("Expected") else message
    ):
        call()


@pytest.mark.parametrize(
    "build",
    [
        # Same blocks as the WRN, three times the graph to trace: heavy.
        pytest.param(
            lambda: architectures.preact_resnet18(input_shape=(16, 16, 3), width=4),
            marks=pytest.mark.heavy,
        ),
        lambda: architectures.wide_resnet(10, 1, input_shape=(16, 16, 3), dropout_rate=0.3),
    ],
    ids=["preact_resnet18", "wide_resnet"],
)
def test_residual_networks_train_with_the_quadratic_regularizer(build):
    # The regularizer differentiates through BatchNormalization twice.
    model = kq.QuadRegModel(
        *build(),
        regularizer=literal_quadreg(epsilon=8 / 255, iterations=1, clip_min=0.0, clip_max=1.0),
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = tf.random.uniform((16, 16, 16, 3), seed=0)
    y = tf.constant(np.arange(16) % 10)
    before = [w.numpy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and history["quadratic_adversarial"][0] > 0
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


def test_wong_cnn_starts_as_pytorch_initializes_it():
    keras.utils.set_random_seed(0)
    model = keras.Model(*architectures.wong_cnn())
    fan_in = {"conv1": 16, "conv2": 256, "dense": 1568, "logits": 100}
    for weight in model.weights:
        layer = weight.path.split("/")[0].removeprefix("wong_cnn_")
        bound = 1 / np.sqrt(fan_in[layer])
        values = np.abs(weight.numpy())
        assert values.max() <= bound and values.max() > 0.85 * bound, weight.path

"""The classifier contract of `keras_quadreg._outputs`: training, attacks,
explanations and export read a softmax model, a logits model and a model
compiled for probabilities alike."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg import _outputs
from keras_quadreg._losses import PerExampleLoss
from keras_quadreg.explain import _classifier


def _model(kind):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    if kind == "softmax":  # uncompiled: the last layer says
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h)), False
    if kind == "logits":  # uncompiled: a linear Dense says
        return keras.Model(inputs, keras.layers.Dense(3)(h)), True
    # A last layer that says nothing: the compiled loss does.
    model = keras.Model(inputs, keras.layers.Lambda(keras.ops.softmax)(keras.layers.Dense(3)(h)))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=False))
    return model, False


def _probabilities(model, from_logits, x):
    outputs = model(x, training=False).numpy()
    return tf.nn.softmax(outputs).numpy() if from_logits else outputs


KINDS = ["softmax", "logits", "compiled_probabilities"]


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_attacks_explanations_and_training_agree(kind, images):
    model, from_logits = _model(kind)
    expected = _probabilities(model, from_logits, images)
    assert _outputs.from_logits(model) is from_logits

    model_fn, attack_from_logits = kq.attacks.logits_function(model)
    assert attack_from_logits is from_logits
    np.testing.assert_allclose(tf.nn.softmax(model_fn(images)).numpy(), expected, atol=1e-6)

    explained = _classifier.explainer_view(model).probabilities(images, batch_size=4)
    np.testing.assert_allclose(explained, expected, atol=1e-6)

    step = kq.TrainingStep(
        model, images, np.zeros(4), None, PerExampleLoss("mse"), tf.constant(0, tf.int64)
    )
    assert step.from_logits is from_logits


@pytest.mark.parametrize("kind", KINDS)
def test_export_needs_no_from_logits(kind, images, tmp_path):
    model, from_logits = _model(kind)
    path = kq.export_for_serving(model, tmp_path, warmup=False)
    served = tf.saved_model.load(str(path)).signatures["serving_default"](images=images)
    np.testing.assert_allclose(
        served["probabilities"].numpy(), _probabilities(model, from_logits, images), atol=1e-6
    )


def test_explicit_from_logits_must_agree_with_the_model():
    model, _ = _model("softmax")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The model's last layer says it outputs probabilities, which contradicts the "
            "`from_logits` passed. Received: from_logits=True"
        ),
    ):
        kq.attacks.logits_function(model, from_logits=True)


def test_a_sample_decides_for_a_plain_callable(images):
    scores = lambda x: tf.nn.softmax(tf.reshape(x, (-1, 64))[:, :3])
    assert _outputs.from_logits(scores, sample=images) is False
    assert _outputs.from_logits(lambda x: 5.0 * scores(x), sample=images) is True


@pytest.mark.parametrize("value", [(1.0, 0.0), (0.0, float("inf")), (0.0,), "01", (True, 1.0)])
def test_check_range_rejects_bad_ranges(value):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected `value_range` to be a pair of finite numbers (low, high) with "
            f"low < high. Received: value_range={value!r}"
        ),
    ):
        _outputs.check_range("value_range", value)

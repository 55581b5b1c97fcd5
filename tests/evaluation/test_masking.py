import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq

CHECKS = [
    "deterministic",
    "logit_outputs",
    "static_model",
    "gradients_nonzero",
    "iterative_vs_single_step",
    "white_box_vs_transfer",
    "white_box_vs_gradient_free",
    "monotone_in_epsilon",
    "unbounded_reaches_zero",
    "converged_in_steps",
]

# Small but real settings; the defaults run more examples and steps.
QUICK = dict(
    num_examples=96,
    steps=5,
    restarts=2,
    spsa_examples=24,
    surrogate_epochs=5,
    spsa=kq.attacks.SPSA(steps=40, samples=64),
)


def test_a_normally_trained_model_passes(mnist_standard_model, mnist_subset):
    model = keras.models.load_model(mnist_standard_model)
    _, (x, y) = mnist_subset
    report = kq.check_gradient_masking(model, (x, y), epsilon=0.3, **QUICK)
    assert [c.name for c in report.checks] == CHECKS
    assert report.passed, report.to_markdown()
    assert report.flagged == []
    assert report["gradients_nonzero"].values["zero_gradient_fraction"] == 0.0
    assert report["unbounded_reaches_zero"].values == {"epsilon": 1.0, "pgd_accuracy": 0.0}
    assert "no sign of gradient masking" in report.to_markdown()


def test_a_model_that_masks_gradients_is_flagged(mnist_standard_model, mnist_subset):
    # 8-bit quantization in front of the same network: the predictions are
    # unchanged, but tf.round has no gradient, so gradient attacks are blind.
    network = keras.models.load_model(mnist_standard_model)
    inputs = keras.Input((28, 28, 1))
    quantized = keras.layers.Lambda(lambda t: tf.round(t * 255.0) / 255.0)(inputs)
    model = keras.Model(inputs, network(quantized))
    _, (x, y) = mnist_subset
    report = kq.check_gradient_masking(model, (x, y), epsilon=0.3, from_logits=True, **QUICK)
    assert not report.passed
    flagged = {c.name for c in report.flagged}
    assert flagged >= {
        "gradients_nonzero",
        "white_box_vs_transfer",
        "white_box_vs_gradient_free",
        "unbounded_reaches_zero",
    }
    gradients = report["gradients_nonzero"]
    assert gradients.values["zero_gradient_fraction"] == 1.0
    assert gradients.explanation.startswith("100.0 % of the examples have a zero input gradient")
    spsa = report["white_box_vs_gradient_free"].values
    assert spsa["pgd_accuracy"] > spsa["spsa_accuracy"] + 0.5
    assert "**FLAG**" in report.to_markdown()
    assert report.to_dict()["passed"] is False


def test_autoattacks_gradient_flags_are_masking_checks(mnist_standard_model, mnist_subset):
    # Noise, a gradient step and a softmax around the same network: a
    # randomized, dynamic model that outputs probabilities.
    network = keras.models.load_model(mnist_standard_model)

    def purify(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            loss = tf.reduce_sum(tf.nn.log_softmax(network(t)))
        t = t - 0.01 * tf.sign(tape.gradient(loss, t))
        return t + tf.random.uniform(tf.shape(t), -0.01, 0.01)

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Softmax()(network(keras.layers.Lambda(purify)(inputs)))
    _, (x, y) = mnist_subset
    report = kq.check_gradient_masking(keras.Model(inputs, outputs), (x, y), epsilon=0.3, **QUICK)
    flagged = {c.name: c.explanation for c in report.flagged}
    assert {"deterministic", "logit_outputs", "static_model"} <= set(flagged)
    assert "it looks randomized" in flagged["deterministic"]
    assert flagged["logit_outputs"].startswith("The model outputs probabilities")
    assert flagged["static_model"].startswith(
        "The model computes gradients while computing its outputs (gradient)"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"tolerance": 1.0},
            "Expected `tolerance` to be a fraction in [0, 1). Received: tolerance=1.0",
        ),
        (
            {"spsa": kq.attacks.PGD()},
            "Expected `spsa` to be a gradient-free kq.attacks.Attack. Received: spsa=PGD(",
        ),
        (
            {"surrogate": "resnet"},
            "Expected `surrogate` to be a Keras model or None. Received: surrogate='resnet'",
        ),
        ({"steps": 0}, "Expected `steps` to be an integer >= 1. Received: steps=0"),
    ],
)
def test_bad_arguments_are_rejected_up_front(kwargs, message):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    data = (np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(ValueError, match=re.escape(message)):
        kq.check_gradient_masking(model, data, epsilon=0.3, **kwargs)


@pytest.mark.heavy
def test_default_settings_pass_a_normally_trained_model(mnist_standard_model, mnist_subset):
    model = keras.models.load_model(mnist_standard_model)
    _, (x, y) = mnist_subset
    report = kq.check_gradient_masking(
        model, tf.data.Dataset.from_tensor_slices((x, y)), epsilon=0.3
    )
    print(report.to_markdown())
    assert report.num_examples == 512 and report.passed

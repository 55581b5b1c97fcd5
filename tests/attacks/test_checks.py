"""AutoAttack's warning flags, each with a model that should raise it and one
that should not."""

import re
import warnings

import keras
import numpy as np
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.attacks import checks

# An affine 10-class model on 8x8 one-channel images.
_RNG = np.random.default_rng(0)
WEIGHTS = _RNG.normal(size=(64, 10)).astype(np.float32)
IMAGES = _RNG.uniform(0.0, 1.0, size=(32, 8, 8, 1)).astype(np.float32)
LABELS = np.argmax(IMAGES.reshape(32, -1) @ WEIGHTS, axis=-1)
THREAT = kq.ops.threat_model(0.1, "inf", 0.0, 1.0)


def affine(x):
    return tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), WEIGHTS)


def masked(x):
    """The affine model with a zero input gradient everywhere."""
    flat = tf.reshape(x, [tf.shape(x)[0], -1])
    return affine(tf.stop_gradient(x)) + 0.0 * tf.reduce_sum(flat, axis=1, keepdims=True)


def flags_of(model_fn, **config):
    autoattack = kq.attacks.AutoAttack(steps=4, square_queries=20, **config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        autoattack.generate(model_fn, IMAGES, LABELS, THREAT, seed=0)
    raised = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    # Each flag is raised as a warning and kept.
    assert raised == [f["message"] for f in autoattack.flags]
    return {f["check"]: f["message"] for f in autoattack.flags}


def test_an_honest_deterministic_model_raises_no_flag():
    assert flags_of(affine) == {}


def test_randomized_model_is_flagged():
    def noisy(x):
        return affine(x + tf.random.uniform(tf.shape(x), -0.01, 0.01))

    flags = flags_of(noisy, components=["apgd_ce"])
    assert list(flags) == ["randomized"]
    assert (
        "Use AutoAttack(version='rand'), which averages every gradient over 20 calls."
        in (flags["randomized"])
    )
    # The version for randomized models does not flag it.
    assert flags_of(noisy, version="rand") == {}


def test_probability_outputs_are_flagged_raw_and_through_logits_function():
    flags = flags_of(lambda x: tf.nn.softmax(affine(x)), components=["apgd_ce"])
    assert list(flags) == ["probability_outputs"]
    assert flags["probability_outputs"].startswith(
        "The model's outputs look like probabilities (each in [0, 1], each row summing to 1)"
    )
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    model_fn, from_logits = kq.attacks.logits_function(model)
    assert not from_logits
    flags = flags_of(model_fn, components=["apgd_ce"])
    assert list(flags) == ["probability_outputs"]
    assert flags["probability_outputs"].startswith(
        "The model outputs probabilities, which are attacked through their logarithm"
    )
    logits_fn, _ = kq.attacks.logits_function(
        keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    )
    assert flags_of(logits_fn, components=["apgd_ce"]) == {}


def test_zero_gradients_at_the_random_start_are_flagged_for_dlr_losses():
    flags = flags_of(masked, components=["apgd_t"])
    assert flags["zero_gradients"].startswith(
        f"{LABELS.size} of {LABELS.size} examples have a zero gradient of the DLR loss at the "
        "random start"
    )
    attack = kq.attacks.APGDT(steps=2, target_classes=1)
    attack.generate(affine, IMAGES, LABELS, THREAT)
    assert attack.zero_gradients == (0, 32)
    apgd_ce = kq.attacks.APGDCE(steps=2)
    apgd_ce.generate(masked, IMAGES, LABELS, THREAT)
    assert apgd_ce.zero_gradients is None


def test_square_beating_the_white_box_components_is_flagged():
    # Gradients carry nothing: only APGD's random start and Square can break examples.
    flags = flags_of(masked, components=["apgd_ce", "square"])
    match = re.match(r"Square broke (\d+) of 32 examples", flags["square_success"])
    assert int(match.group(1)) > 0.002 * 32


def test_square_success_uses_the_codes_threshold_on_counts():
    def flag(square_broke, n=500):
        after = {"clean": 0.99, "apgd_ce": 0.87, "square": 0.87 - square_broke / n}
        return checks.square_success(after, n)

    # 0.2 % of 500 is one example: one does not flag, two do.
    assert flag(1) is None
    assert flag(2)["message"].startswith("Square broke 2 of 500 examples (0.4 %)")
    assert checks.square_success({"clean": 0.99, "square": 0.5}, 500) is None


def test_a_model_that_differentiates_in_its_forward_pass_is_flagged():
    def purifying(x):
        # One step of test-time optimization: away from the current prediction.
        with tf.GradientTape() as tape:
            tape.watch(x)
            entropy = tf.reduce_sum(tf.nn.softmax(affine(x)) * tf.nn.log_softmax(affine(x)))
        return affine(x - 0.01 * tf.sign(tape.gradient(entropy, x)))

    flag = checks.dynamic(purifying, IMAGES[:4])
    assert flag["check"] == "dynamic" and "(gradient)" in flag["message"]
    assert checks.dynamic(affine, IMAGES[:4]) is None

import re

import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.attacks import fab
from tests.attacks.test_apgd import BIAS, POINTS, WEIGHTS, affine, predict


def distances_to_classes(x, norm):
    """`(n, classes)`: the smallest ||delta|| (l_inf or l_2) that brings the
    affine model's logit of each class up to that of the predicted class."""
    logits = x @ WEIGHTS + BIAS
    y = np.argmax(logits, axis=-1)
    margins = logits[np.arange(len(x)), y][:, None] - logits
    differences = WEIGHTS.T[y][:, None, :] - WEIGHTS.T[None]
    dual = np.abs(differences).sum(-1) if norm == "inf" else np.linalg.norm(differences, axis=-1)
    return np.divide(margins, dual, out=np.full_like(margins, np.inf), where=dual > 0)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_projection_on_a_plane_is_the_closed_form_when_the_box_does_not_bind(norm):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 6)).astype(np.float32)
    c = np.array([0.3, -0.2, 0.0, 1.0], np.float32)
    d = fab.project_on_plane(
        tf.constant(w), tf.constant(c), -10 * np.ones_like(w), 10 * np.ones_like(w), norm
    ).numpy()
    if norm == "inf":
        expected = c[:, None] * np.sign(w) / np.abs(w).sum(1, keepdims=True)
    else:
        expected = c[:, None] * w / np.square(w).sum(1, keepdims=True)
    np.testing.assert_allclose(d, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_projection_on_a_plane_stays_in_the_box(norm):
    w = tf.constant([[1.0, 2.0, -1.0], [1.0, 1.0, 1.0]])
    lower = tf.constant([[-0.1, -0.1, -0.1], [-0.1, -0.1, -0.1]])
    upper = tf.constant([[0.1, 0.05, 0.1], [0.1, 0.1, 0.1]])
    # The first plane is reachable in the box; the second is not.
    d = fab.project_on_plane(w, tf.constant([0.25, 1.0]), lower, upper, norm).numpy()
    assert np.all(d >= lower.numpy()) and np.all(d <= upper.numpy())
    np.testing.assert_allclose(d[0] @ w.numpy()[0], 0.25, rtol=1e-5)
    np.testing.assert_allclose(d[1], [0.1, 0.1, 0.1])


@pytest.mark.parametrize("norm, epsilon", [("inf", 0.3), (2, 1.0)])
def test_fab_t_finds_the_minimal_perturbation_within_one_percent(norm, epsilon):
    distances = distances_to_classes(POINTS[:100], norm)
    logits = POINTS[:100] @ WEIGHTS + BIAS
    second = np.argsort(-logits, axis=-1)[:, 1]
    minimal = distances.min(axis=-1)
    # Points whose closest other class is the first target, near enough
    # that the box [0, 1] does not bind.
    keep = np.isclose(distances[np.arange(100), second], minimal) & (minimal < 0.4 * epsilon)
    x, y = POINTS[:100][keep], np.argmax(logits[keep], axis=-1)
    assert len(x) > 50
    threat = kq.ops.threat_model(epsilon, norm, 0.0, 1.0)
    x_adv = kq.attacks.FABT(target_classes=1).generate(affine, x, y, threat)
    assert np.all(predict(x_adv) != y)
    delta = (x_adv - x).reshape(len(x), -1)
    found = np.abs(delta).max(1) if norm == "inf" else np.linalg.norm(delta, axis=1)
    ratio = found / minimal[keep]
    assert ratio.min() >= 1 - 1e-4 and ratio.max() <= 1.01


def test_fab_t_breaks_only_inside_the_ball():
    minimal = distances_to_classes(POINTS, "inf").min(axis=-1)
    epsilon = 0.05
    keep = (minimal < 0.8 * epsilon) | (minimal > 1.25 * epsilon)
    x, below = POINTS[keep][:64], (minimal[keep] < epsilon)[:64]
    assert 0 < below.sum() < len(x)
    threat = kq.ops.threat_model(epsilon, "inf", 0.0, 1.0)
    x_adv = kq.attacks.FABT().generate(affine, x, predict(x), threat)
    np.testing.assert_array_equal(predict(x_adv) != predict(x), below)
    np.testing.assert_array_equal(x_adv[~below], x[~below])
    assert np.abs(x_adv - x).max() <= epsilon * (1 + 1e-5)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kq.attacks.FABT(steps=0),
            "Expected `steps` to be an integer >= 1. Received: steps=0",
        ),
        (
            lambda: kq.attacks.FABT(target_classes=0),
            "Expected `target_classes` to be an integer >= 1. Received: target_classes=0",
        ),
        (
            lambda: kq.attacks.FABT().generate(
                affine, POINTS[:2], [0, 1], kq.ops.threat_model(0.1, "inf")
            ),
            "FABT needs an input box: set `clip_min` and `clip_max` of the threat model. "
            "Received: clip_min=None, clip_max=None",
        ),
    ],
)
def test_bad_arguments_are_rejected(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()

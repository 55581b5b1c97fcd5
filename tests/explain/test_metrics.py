import numpy as np
import pytest

import keras_quadreg as kq
from keras_quadreg.explain import metrics
from tests.explain.conftest import linear_model


@pytest.fixture
def digits(mnist_subset):
    _, (x_test, _) = mnist_subset
    return x_test[:64]


def test_a_saliency_equal_to_the_foreground_mask_scores_one(digits):
    mask = metrics.foreground_mask(digits)
    assert mask.shape == (64, 28, 28) and mask.dtype == bool
    np.testing.assert_allclose(metrics.foreground_fraction(mask.astype(np.float32), mask), 1.0)
    # Sign does not matter: mass is |saliency|.
    np.testing.assert_allclose(metrics.foreground_fraction(-3.0 * mask, mask), 1.0)


def test_a_random_saliency_scores_about_its_share_of_pixels(digits):
    mask = metrics.foreground_mask(digits)
    share = mask.mean(axis=(1, 2))
    random = np.random.default_rng(0).normal(size=mask.shape)
    fractions = metrics.foreground_fraction(random, mask)
    # |N(0, 1)| per pixel: the fraction is a mean over ~100-200 ink pixels.
    np.testing.assert_allclose(fractions, share, atol=0.08)
    assert abs(fractions.mean() - share.mean()) < 0.01


def test_foreground_mask_threshold_and_zero_maps():
    images = np.zeros((1, 4, 4, 3), np.float32)
    images[0, 0, 0, 2] = 0.3  # one channel above the threshold is enough
    images[0, 1, 1] = 0.05
    mask = metrics.foreground_mask(images, threshold=0.1)
    assert mask.sum() == 1 and mask[0, 0, 0]
    assert metrics.foreground_mask(images, threshold=0.5).sum() == 0
    # On [-1, 1] the threshold is a share of the range above -1.
    assert metrics.foreground_mask(images * 0 - 0.5, threshold=0.2, value_range=(-1, 1)).all()
    # A zero map ranks nothing and scores like a uniform one.
    np.testing.assert_allclose(metrics.foreground_fraction(np.zeros((1, 4, 4)), mask), 1 / 16)


def _one_pixel_model():
    """Class 0's logit is 10 * pixel (0, 0) - 5; class 1's is 0."""
    weights = np.zeros((16, 2), np.float32)
    weights[0, 0] = 10.0
    return linear_model(weights, bias=np.array([-5.0, 0.0], np.float32))


def test_deletion_and_insertion_curves_follow_the_saliency_ranking():
    model = _one_pixel_model()
    x = np.ones((1, 4, 4, 1), np.float32)
    right = np.zeros((1, 4, 4))
    right[0, 0, 0] = 1.0
    wrong = 1.0 - right
    high, low = 1 / (1 + np.exp(-5.0)), 1 / (1 + np.exp(5.0))
    curve = metrics.deletion_curve(model, x, right, 0, steps=16)
    # The first deletion removes the pixel the class depends on.
    np.testing.assert_allclose(curve, [[high] + [low] * 16], rtol=1e-5)
    curve = metrics.deletion_curve(model, x, wrong, 0, steps=16)
    np.testing.assert_allclose(curve, [[high] * 16 + [low]], rtol=1e-5)
    np.testing.assert_allclose(
        metrics.deletion_auc(model, x, right, 0, steps=16),
        [(high + low) / 32 + low * 15 / 16],
        rtol=1e-5,
    )
    insertion = metrics.insertion_curve(model, x, right, 0, steps=16)
    np.testing.assert_allclose(insertion, [[low] + [high] * 16], rtol=1e-5)
    # insertion_curve takes deletion_curve's defaults: 16 steps.
    np.testing.assert_array_equal(metrics.insertion_curve(model, x, right, 0), insertion)
    assert metrics.insertion_auc(model, x, right, 0, steps=4) > metrics.insertion_auc(
        model, x, wrong, 0, steps=4
    )
    assert metrics.deletion_auc(model, x, right, 0, steps=4) < metrics.deletion_auc(
        model, x, wrong, 0, steps=4
    )


def test_area_under_curve_is_trapezoidal_on_the_unit_interval():
    np.testing.assert_allclose(
        metrics.area_under_curve([[1, 1, 1], [0, 0.5, 1], [1, 0, 0]]), [1.0, 0.5, 0.25]
    )


def _counterfactuals(images, targets, predictions):
    count, k = targets.shape
    return kq.explain.Counterfactuals(
        originals=np.zeros((count, 4, 4, 1), np.float32),
        images=images,
        targets=targets,
        predictions=predictions,
        target_probabilities=np.zeros((count, k), np.float32),
        distances=np.zeros((count, k), np.float32),
        epsilon=1.0,
        norm=2,
        value_range=(0.0, 1.0),
    )


def test_counterfactual_transfer_is_the_references_agreement_on_successes():
    weights = np.zeros((16, 3), np.float32)
    weights[0, 1] = weights[1, 2] = 10.0
    reference = linear_model(weights)  # class 1 if pixel 0 is lit, class 2 if pixel 1 is
    images = np.zeros((2, 2, 4, 4, 1), np.float32)
    images[:, 0, 0, 0] = 1.0  # both first counterfactuals light pixel 0
    images[0, 1, 0, 1] = 1.0  # only one second counterfactual lights pixel 1
    targets = np.array([[1, 2], [1, 2]])
    # The explained model reached every target but the first one's.
    cf = _counterfactuals(images, targets, np.array([[0, 2], [1, 2]]))
    assert metrics.counterfactual_transfer(reference, cf) == 2 / 3
    # The reference agrees with every counterfactual the model classifies as the target.
    cf = _counterfactuals(images, targets, np.array([[1, 2], [1, 0]]))
    assert metrics.counterfactual_transfer(reference, cf) == 1.0
    assert (
        metrics.counterfactual_transfer(reference, _counterfactuals(images, targets, targets * 0))
        is None
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda m, x: metrics.deletion_curve(m, x, np.zeros((2, 4, 4)), 0),
            "Expected `saliency` to have one map per image, shape (1, 4, 4). Received: "
            "saliency.shape=(2, 4, 4)",
        ),
        (
            lambda m, x: metrics.insertion_curve(m, x, np.full((1, 4, 4), np.nan), 0),
            "Expected `saliency` to be finite. Received: saliency with NaN or Inf values",
        ),
        (
            lambda m, x: metrics.deletion_curve(m, x, np.zeros((1, 4, 4)), 0, baseline=2.0),
            "Expected `baseline` to lie in value_range=(0.0, 1.0). Received: baseline=2.0",
        ),
        (
            lambda m, x: metrics.deletion_curve(m, x, np.zeros((1, 4, 4)), 0, steps=0),
            "Expected `steps` to be an integer >= 1. Received: steps=0",
        ),
        (
            lambda m, x: metrics.foreground_fraction(
                np.zeros((1, 4, 4)), np.zeros((1, 4, 4)) + 0.5
            ),
            "Expected `mask` to be booleans of shape (n, height, width). Received: mask with "
            "shape=(1, 4, 4), dtype=float64",
        ),
        (
            lambda m, x: metrics.foreground_mask(x, threshold=1.0),
            "Expected `threshold` to be in (0, 1). Received: threshold=1.0",
        ),
    ],
)
def test_metric_arguments_are_validated(call, message):
    model = _one_pixel_model()
    with pytest.raises(ValueError) as error:
        call(model, np.ones((1, 4, 4, 1), np.float32))
    assert str(error.value) == message


def test_insertion_curve_names_an_unknown_option():
    model = _one_pixel_model()
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(TypeError) as error:
        metrics.insertion_curve(model, x, np.zeros((1, 4, 4)), 0, step=4)
    assert str(error.value) == (
        "Got an unexpected keyword argument `step`: expected an option of deletion_curve, one "
        "of steps, baseline, value_range, batch_size. Received: step=4"
    )
    with pytest.raises(TypeError, match="positional arguments but 5 were given"):
        metrics.insertion_curve(model, x, np.zeros((1, 4, 4)), 0, 4)

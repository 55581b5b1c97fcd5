import numpy as np
import pytest

import keras_quadreg as kq
from tests.explain.conftest import linear_model


@pytest.mark.parametrize("norm, epsilon", [(2, 4.0), ("inf", 0.3)])
def test_counterfactuals_reach_their_targets_within_the_budget(
    standard_model, mnist_subset, norm, epsilon
):
    _, (x_test, _) = mnist_subset
    images = x_test[:16]
    cf = kq.explain.counterfactuals(
        standard_model, images, "others", epsilon=epsilon, norm=norm, steps=20
    )
    assert cf.images.shape == (16, 9, 28, 28, 1)
    assert cf.targets.shape == cf.predictions.shape == cf.distances.shape == (16, 9)
    # Every class but the predicted one.
    predicted = np.asarray(standard_model(images)).argmax(axis=1)
    assert not np.any(cf.targets == predicted[:, None])
    assert cf.success_rate > 0.75
    np.testing.assert_array_equal(cf.success, cf.predictions == cf.targets)
    assert cf.distances.max() <= epsilon * (1 + 1e-5)
    perturbation = (cf.images - images[:, None]).reshape(16, 9, -1)
    measured = (
        np.abs(perturbation).max(-1) if norm == "inf" else np.linalg.norm(perturbation, axis=-1)
    )
    np.testing.assert_allclose(cf.distances, measured, rtol=1e-5, atol=1e-6)
    assert cf.images.min() >= 0.0 and cf.images.max() <= 1.0


def test_counterfactual_targets_and_determinism():
    weights = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    model = linear_model(weights)
    x = np.random.default_rng(1).uniform(0, 1, (4, 4, 4, 1)).astype(np.float32)
    logits = np.asarray(model(x))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    kwargs = {"epsilon": 0.5, "steps": 3}
    every = kq.explain.counterfactuals(model, x, "all", **kwargs)
    np.testing.assert_array_equal(every.targets, np.tile(np.arange(3), (4, 1)))
    runner_up = kq.explain.counterfactuals(model, x, "runner_up", **kwargs)
    np.testing.assert_array_equal(runner_up.targets[:, 0], np.argsort(p, axis=1)[:, -2])
    assert kq.explain.counterfactuals(model, x, 2, **kwargs).targets.tolist() == [[2]] * 4
    chosen = kq.explain.counterfactuals(model, x, [0, 1, 2, 0], **kwargs)
    np.testing.assert_array_equal(chosen.targets[:, 0], [0, 1, 2, 0])
    np.testing.assert_array_equal(
        chosen.images, kq.explain.counterfactuals(model, x, [0, 1, 2, 0], **kwargs).images
    )
    # A target's counterfactual raises its probability.
    np.testing.assert_array_less(p[np.arange(4), [0, 1, 2, 0]], chosen.target_probabilities[:, 0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"target_classes": "best"},
            "Expected `target_classes` to be one of ['all', 'others', 'runner_up']. "
            "Received: target_classes='best'",
        ),
        (
            {"target_classes": [[0, 1]]},
            "Expected `target_classes` to be one of ['all', 'others', 'runner_up'], a "
            "class index, or class indices of shape (2,) or (2, k). "
            "Received: target_classes=[[0, 1]]",
        ),
        (
            {"target_classes": 3},
            "Expected `target_classes` to be class indices in [0, 3). Received: target_classes "
            "with min=3, max=3",
        ),
        (
            {"epsilon": 0.0},
            "Expected `epsilon` to be a finite positive number. Received: epsilon=0.0",
        ),
        ({"norm": 1}, 'Expected `norm` to be "inf" (or np.inf) or 2. Received: norm=1'),
        ({"steps": 0}, "Expected `steps` to be an integer >= 1. Received: steps=0"),
        (
            {"step_size": -0.1},
            "Expected `step_size` to be a finite positive number. Received: step_size=-0.1",
        ),
    ],
)
def test_counterfactual_arguments_are_validated(kwargs, message):
    model = linear_model(np.ones((16, 3), np.float32))
    kwargs = {"target_classes": "all", **kwargs}
    with pytest.raises(ValueError) as error:
        kq.explain.counterfactuals(model, np.zeros((2, 4, 4, 1), np.float32), **kwargs)
    assert str(error.value) == message


def test_class_visualizations_grow_each_class_from_one_start(standard_model, mnist_subset):
    (x_train, _), _ = mnist_subset
    vis = kq.explain.class_visualizations(
        standard_model, start="mean", images=x_train[:256], epsilon=6.0, steps=20
    )
    assert vis.images.shape == (10, 28, 28, 1)
    np.testing.assert_allclose(vis.start, x_train[:256].mean(axis=0), atol=1e-6)
    np.testing.assert_array_equal(vis.classes, np.arange(10))
    predicted = np.asarray(standard_model(vis.images)).argmax(axis=1)
    np.testing.assert_array_equal(predicted, np.arange(10))
    assert np.all(vis.probabilities > 0.5)
    distances = np.linalg.norm((vis.images - vis.start).reshape(10, -1), axis=1)
    assert distances.max() <= 6.0 * (1 + 1e-5)
    noise = kq.explain.class_visualizations(
        standard_model, [3, 5], "noise", epsilon=1.0, steps=2, seed=7
    )
    assert noise.images.shape == (2, 28, 28, 1)
    again = kq.explain.class_visualizations(
        standard_model, [3, 5], "noise", epsilon=1.0, steps=2, seed=7
    )
    np.testing.assert_array_equal(noise.start, again.start)
    np.testing.assert_array_equal(noise.images, again.images)


def test_class_visualization_arguments_are_validated():
    model = linear_model(np.ones((16, 3), np.float32))
    with pytest.raises(ValueError) as error:
        kq.explain.class_visualizations(model, start="mean")
    assert (
        str(error.value) == 'Expected `images` to average when start="mean". Received: images=None'
    )
    with pytest.raises(ValueError) as error:
        kq.explain.class_visualizations(model, start="zeros")
    assert (
        str(error.value)
        == "Expected `start` to be one of ['noise', 'mean']. Received: start='zeros'"
    )
    with pytest.raises(ValueError) as error:
        kq.explain.class_visualizations(model, classes=[0, 5])
    assert (
        str(error.value)
        == "Expected `classes` to be class indices in [0, 3). Received: classes with min=0, max=5"
    )
    start = np.zeros((4, 4, 1), np.float32)
    vis = kq.explain.class_visualizations(model, 1, start, epsilon=0.5, steps=2)
    np.testing.assert_array_equal(vis.start, start)
    assert vis.classes.tolist() == [1]

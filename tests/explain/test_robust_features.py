import keras
import numpy as np
import pytest

import keras_quadreg as kq
from tests.explain.conftest import linear_model, two_class_problem


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
            {"epsilon": 2.0, "step_size": -0.1},
            "Expected `step_size` to be a finite positive number. Received: step_size=-0.1",
        ),
        (
            {"epsilon": "grow"},
            "Expected `epsilon` to be one of ['search']. Received: epsilon='grow'",
        ),
        (
            {"step_size": 0.1},
            "Expected `step_size=None` when `epsilon` is 'search': each radius tried takes "
            "steps of 2.5 * radius / steps. Received: step_size=0.1",
        ),
        (
            {"max_epsilon": -1.0},
            "Expected `max_epsilon` to be a finite positive number. Received: max_epsilon=-1.0",
        ),
        (
            {"probability": 1.0},
            "Expected `probability` to be in (0, 1). Received: probability=1.0",
        ),
        (
            {"search_steps": -1},
            "Expected `search_steps` to be an integer >= 0. Received: search_steps=-1",
        ),
        (
            {"gradient_noise": -0.5},
            "Expected `gradient_noise` to be a finite non-negative number. "
            "Received: gradient_noise=-0.5",
        ),
        ({"seed": 1.5}, "Expected `seed` to be an integer >= 0. Received: seed=1.5"),
    ],
)
def test_counterfactual_arguments_are_validated(kwargs, message):
    model = linear_model(np.ones((16, 3), np.float32))
    kwargs = {"target_classes": "all", **kwargs}
    with pytest.raises(ValueError) as error:
        kq.explain.counterfactuals(model, np.zeros((2, 4, 4, 1), np.float32), **kwargs)
    assert str(error.value) == message


@pytest.mark.parametrize("norm", [2, "inf"])
def test_radius_search_finds_the_closed_form_radius_of_a_linear_model(norm):
    model, x, targets, needed = two_class_problem(norm, probability=0.9)
    search_steps, cap = 6, 4 * float(needed.max())
    cf = kq.explain.counterfactuals(
        model,
        x,
        targets,
        norm=norm,
        max_epsilon=cap,
        probability=0.9,
        search_steps=search_steps,
        value_range=(-100.0, 100.0),
    )
    radii = cf.radii[:, 0]
    assert cf.success.all() and cf.success_rate == 1.0
    # Never below the smallest radius; above it by at most the bisection's
    # resolution: 2 ** -search_steps of the radius, or cap * 2 ** -(6 + search_steps).
    tolerance = np.maximum(needed * 2.0**-search_steps, cap * 2.0 ** -(6 + search_steps))
    assert np.all(radii >= needed * (1 - 1e-4))
    assert np.all(radii <= needed + tolerance * (1 + 1e-4))
    assert np.all(cf.target_probabilities >= 0.9)
    np.testing.assert_allclose(cf.distances[:, 0], radii, rtol=1e-4)
    assert cf.median_radius == pytest.approx(float(np.median(radii)))


def test_radius_search_reports_a_target_beyond_the_cap_as_not_reached():
    model, x, targets, needed = two_class_problem(2, probability=0.5)
    cap = 0.5 * float(needed.min())
    cf = kq.explain.counterfactuals(model, x, targets, max_epsilon=cap, value_range=(-100.0, 100.0))
    assert not cf.success.any() and cf.success_rate == 0.0
    assert np.all(np.isinf(cf.radii)) and cf.median_radius == np.inf
    # The image shown is the attack at the cap, where the target stays below 0.5.
    np.testing.assert_allclose(cf.distances, cap, rtol=1e-4)
    assert np.all(cf.target_probabilities < 0.5)
    assert np.all(cf.predictions != cf.targets)
    # Half out of reach: the median is beyond the cap; the reached ones have radii.
    mixed = kq.explain.counterfactuals(
        model, x, targets, max_epsilon=float(np.median(needed)) * 1.01, value_range=(-100, 100)
    )
    np.testing.assert_array_equal(mixed.success[:, 0], needed <= np.median(needed) * 1.01)
    assert np.all(np.isfinite(mixed.radii[mixed.success]))
    # A target the image already reaches needs no change.
    own = kq.explain.counterfactuals(model, x, 1 - targets, value_range=(-100.0, 100.0))
    np.testing.assert_array_equal(own.radii, 0.0)
    np.testing.assert_array_equal(own.images[:, 0], x)


@pytest.mark.parametrize("norm", [2, "inf"])
def test_gradient_noise_finds_targets_a_thresholding_model_hides_from_its_gradient(norm):
    """A model that ignores pixels below 0.3 (as l_inf-robust MNIST models
    learn to) has a zero gradient at a dark image: the target needs the
    pixels raised past the threshold, which only a gradient taken at a noisy
    point shows. The counterfactuals found carry no noise: they lie within
    their radius and no closer than the smallest change that reaches the
    target (l_2: three pixels at 1/3; l_inf: every pixel at the threshold)."""
    inputs = keras.Input((4, 4, 1))
    active = keras.layers.ReLU(threshold=0.3)(inputs)
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(active)))
    # Class 0 by a margin of 1; class 1 once the active pixels sum to 1.
    dense.set_weights([np.tile([[0.0, 1.0]], (16, 1)), np.array([1.0, 0.0])])
    x = np.zeros((2, 4, 4, 1), np.float32)
    kwargs = {"target_classes": 1, "norm": norm}
    hidden = kq.explain.counterfactuals(model, x, gradient_noise=0.0, **kwargs)
    assert hidden.success_rate == 0.0 and np.all(np.isinf(hidden.radii))
    found = kq.explain.counterfactuals(model, x, **kwargs)
    assert found.success.all()
    assert np.all(found.target_probabilities >= 0.5)
    assert np.all(found.distances <= found.radii * (1 + 1e-5))
    assert np.all(found.distances >= (np.sqrt(3) / 3 if norm == 2 else 0.3) * (1 - 1e-5))


def test_searched_counterfactuals_are_deterministic(standard_model, mnist_subset):
    _, (x_test, _) = mnist_subset
    kwargs = {"target_classes": "others", "steps": 5, "search_steps": 2}
    first = kq.explain.counterfactuals(standard_model, x_test[:3], **kwargs)
    again = kq.explain.counterfactuals(standard_model, x_test[:3], **kwargs)
    np.testing.assert_array_equal(first.radii, again.radii)
    np.testing.assert_array_equal(first.images, again.images)
    # The seed draws the search's gradient noise.
    other = kq.explain.counterfactuals(standard_model, x_test[:3], seed=1, **kwargs)
    assert not np.array_equal(first.images, other.images)
    assert first.images.shape == (3, 9, 28, 28, 1)
    # Each reached target at the threshold, within its radius and the box.
    reached = first.success
    assert reached.mean() > 0.9
    assert np.all(first.target_probabilities[reached] >= 0.5)
    assert np.all(first.distances <= np.where(reached, first.radii, first.epsilon) * (1 + 1e-5))
    assert first.images.min() >= 0.0 and first.images.max() <= 1.0
    assert first.epsilon == 16.0 and first.probability == 0.5


def test_compare_counterfactuals_gives_every_model_the_same_targets(standard_model, robust_model):
    images = np.random.default_rng(0).uniform(0, 1, (2, 28, 28, 1)).astype(np.float32)
    comparison = kq.explain.compare_counterfactuals(
        {"standard": standard_model, "robust": robust_model},
        images,
        "runner_up",
        steps=3,
        search_steps=1,
    )
    standard, robust = comparison.counterfactuals.values()
    np.testing.assert_array_equal(standard.targets, robust.targets)
    assert set(comparison.median_radii) == {"standard", "robust"}
    figure = comparison.plot()
    assert len(figure.axes) == 2 * 2 * 2  # (image, model) rows; original and one target
    assert figure.axes[0].get_title() == "standard" and figure.axes[2].get_title() == "robust"
    assert figure.get_suptitle().startswith(
        "Counterfactuals: the same images and targets, each model's change (median radius: "
    )


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


def test_class_visualizations_search_the_radius_each_class_needs():
    model, x, targets, needed = two_class_problem(2, probability=0.9)
    cap = 4 * float(needed[0])
    vis = kq.explain.class_visualizations(
        model, [targets[0]], x[0], max_epsilon=cap, probability=0.9, value_range=(-100, 100)
    )
    assert needed[0] <= vis.radii[0] <= needed[0] * (1 + 2**-4) * (1 + 1e-4)
    assert vis.probabilities[0] >= 0.9
    out_of_reach = kq.explain.class_visualizations(
        model,
        [targets[0]],
        x[0],
        max_epsilon=needed[0] / 2,
        probability=0.9,
        value_range=(-100, 100),
    )
    assert np.isinf(out_of_reach.radii[0]) and out_of_reach.probabilities[0] < 0.9
    assert out_of_reach._title(0).endswith(f"r>{needed[0] / 2:g}")


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


_UNKNOWN = (
    "Got an unexpected keyword argument `{0}`: expected a counterfactual option, one of "
    "epsilon, norm, max_epsilon, probability, steps, search_steps, gradient_noise. "
    "Received: {0}={1}"
)


@pytest.mark.parametrize(
    "call, name, value",
    [
        (lambda m, x: kq.explain.counterfactuals(m, x, epsilom=2.0), "epsilom", "2.0"),
        (lambda m, x: kq.explain.compare_counterfactuals({"a": m}, x, nrom=2), "nrom", "2"),
        # The comparison searches every radius: no fixed-radius step size, as before.
        (
            lambda m, x: kq.explain.compare_counterfactuals({"a": m}, x, step_size=0.1),
            "step_size",
            "0.1",
        ),
        (lambda m, x: kq.explain.class_visualizations(m, 1, x[0], step=3), "step", "3"),
        (lambda m, x: kq.explain(m, x, "vanilla", probabilty=0.9), "probabilty", "0.9"),
        (lambda m, x: kq.explain(m, x, "vanilla", step_size=0.1), "step_size", "0.1"),
        (lambda m, x: kq.explain.compare({"a": m}, x, "vanilla", clases=1), "clases", "1"),
    ],
)
def test_unknown_counterfactual_options_raise_a_type_error_naming_them(call, name, value):
    model = linear_model(np.ones((16, 3), np.float32))
    with pytest.raises(TypeError) as error:
        call(model, np.zeros((2, 4, 4, 1), np.float32))
    assert str(error.value) == _UNKNOWN.format(name, value)


def test_counterfactual_options_keep_each_function_s_defaults():
    model, x, targets, _ = two_class_problem(2, probability=0.5)
    x, box = x[:2], (-100, 100)
    found = kq.explain.counterfactuals(model, x, targets[:2], value_range=box)
    assert (found.probability, found.epsilon, found.norm) == (0.5, 16.0 * 200, 2)
    explained = kq.explain(model, x, "vanilla", counterfactuals="all", value_range=box)
    cf = explained.counterfactuals
    assert (cf.probability, cf.epsilon, cf.norm) == (0.5, 16.0 * 200, 2)
    compared = kq.explain.compare({"a": model}, x, "vanilla", value_range=box, batch_size=1)
    assert compared.explanations["a"].counterfactuals.probability == 0.5
    vis = kq.explain.class_visualizations(model, [targets[0]], x[0], value_range=box)
    assert (vis.probability, vis.epsilon) == (0.9, 10.0)
    vis = kq.explain.class_visualizations(model, [targets[0]], x[0], value_range=box, steps=2)
    assert (vis.probability, vis.epsilon) == (0.9, 10.0)


def test_counterfactual_options_cannot_reach_the_settings_own_arguments():
    model = linear_model(np.ones((16, 3), np.float32))
    with pytest.raises(TypeError, match="Received: prefix='x'"):
        kq.explain(model, np.zeros((2, 4, 4, 1), np.float32), "vanilla", prefix="x")

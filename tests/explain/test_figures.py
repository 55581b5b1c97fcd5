import numpy as np
import pytest
from PIL import Image

import keras_quadreg as kq
from tests.explain.conftest import linear_model


def assert_informative_png(path):
    """A non-empty PNG whose pixels are not all one colour."""
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1


def test_the_module_is_callable_and_explains(standard_model, mnist_subset, tmp_path):
    _, (x_test, _) = mnist_subset
    exp = kq.explain(
        standard_model,
        x_test[:3],
        methods=["vanilla", kq.explain.SmoothGrad(num_samples=2), "gradcam"],
        steps=3,
        seed=0,
    )
    assert isinstance(exp, kq.explain.Explanation)
    assert list(exp.saliency) == ["vanilla", "smoothgrad", "gradcam"]
    assert all(maps.shape == (3, 28, 28) for maps in exp.saliency.values())
    np.testing.assert_array_equal(exp.classes, exp.predictions)
    assert exp.counterfactuals.images.shape == (3, 1, 28, 28, 1)  # runner-up class
    figure = exp.plot()
    assert len(figure.axes) == 3 * 5 + 1  # image, 3 maps, 1 counterfactual; the colour bar
    assert [a.get_title() for a in figure.axes[:4]][1:] == ["vanilla", "smoothgrad", "gradcam"]
    # The counterfactual says its target, the probability reached and the radius it needed.
    cf = exp.counterfactuals
    assert figure.axes[4].get_title() == (
        f"counterfactual\n→{cf.targets[0, 0]}: p={cf.target_probabilities[0, 0]:.2f}\n"
        + (f"r={cf.radii[0, 0]:.2g}" if cf.success[0, 0] else "r>16")
    )
    assert figure.get_suptitle() == f"{standard_model.name}: saliency maps and counterfactuals"
    caption = " ".join(figure.get_supxlabel().split())
    assert "Maps: red pixels raise the explained class's score, blue ones lower it." in caption
    assert "'explains k'" not in caption  # the maps explain the predictions here
    assert (
        "Counterfactual '→c: p, r': the smallest l_2 change found, of radius r, that raises "
        "class c to probability 0.5 or more; p is the probability of c there. 'r>16': out of "
        "reach within the cap 16, the image shown is the change at the cap."
    ) in caption
    (bar,) = [a for a in figure.axes if a.get_label() == "<colorbar>"]
    assert [t.get_text() for t in bar.get_yticklabels()] == [
        "-max:\nopposes",
        "0",
        "+max:\nsupports",
    ]
    assert len(exp.plot(max_images=2).axes) == 2 * 5 + 1
    assert_informative_png(exp.save(tmp_path / "explanations.png"))


def test_compare_puts_models_side_by_side(standard_model, robust_model, mnist_subset, tmp_path):
    _, (x_test, y_test) = mnist_subset
    comparison = kq.explain.compare(
        {"standard": standard_model, "quadreg": robust_model},
        x_test[:2],
        methods=["vanilla", "integrated_gradients"],
        classes=y_test[:2],
        counterfactuals=None,
    )
    assert list(comparison.explanations) == ["standard", "quadreg"]
    for explanation in comparison.explanations.values():
        np.testing.assert_array_equal(explanation.classes, y_test[:2])
        assert explanation.counterfactuals is None
    figure = comparison.plot()
    assert len(figure.axes) == 2 * (1 + 2 * 2) + 1  # and the colour bar
    assert figure.axes[1].get_title().startswith("standard\nvanilla\npred ")
    assert_informative_png(comparison.save(tmp_path / "compare.png"))


def test_counterfactual_and_class_figures_render(standard_model, mnist_subset, tmp_path):
    _, (x_test, _) = mnist_subset
    cf = kq.explain.counterfactuals(standard_model, x_test[:2], [3, 5], steps=2)
    figure = cf.plot()
    assert figure.get_suptitle() == "Counterfactuals: each image pushed toward each target class"
    assert " ".join(figure.get_supxlabel().split()) == cf.caption()
    assert not [a for a in figure.axes if a.get_label() == "<colorbar>"]  # no maps
    assert_informative_png(cf.save(tmp_path / "cf.png"))
    vis = kq.explain.class_visualizations(standard_model, [0, 1], steps=2, seed=0)
    assert_informative_png(vis.save(tmp_path / "classes.png"))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda m, x: kq.explain(m, x, methods=["vanilla", "vanilla_gradients"]),
            "Expected each method once. Received: methods=['vanilla', 'vanilla']",
        ),
        (
            lambda m, x: kq.explain(m, x, classes=[1]),
            "Expected `classes` to be a class index or one class index per image, shape (2,). "
            "Received: classes=[1]",
        ),
        (
            lambda m, x: kq.explain(m, x, counterfactuals="nearest"),
            "Expected `counterfactuals` to be one of ['all', 'others', 'runner_up']. Received: "
            "counterfactuals='nearest'",
        ),
        (
            lambda m, x: kq.explain.compare([m], x),
            "Expected `models` to be a non-empty dict of name -> keras.Model. Received: "
            "models=[<Functional",
        ),
        (
            lambda m, x: kq.explain.compare(
                {"a": m, "b": linear_model(np.ones((16, 3), np.float32))}, x
            ),
            "Expected `models` with the same classes. "
            "Received: classes per model={'a': 10, 'b': 3}",
        ),
        (
            lambda m, x: kq.explain.compare({"a": m}, x, batch_size=0),
            "Expected `batch_size` to be an integer >= 1. Received: batch_size=0",
        ),
    ],
)
def test_explain_arguments_are_validated(standard_model, call, message):
    with pytest.raises(ValueError) as error:
        call(standard_model, np.zeros((2, 28, 28, 1), np.float32))
    assert str(error.value).startswith(message)

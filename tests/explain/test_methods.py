import gc
import warnings
import weakref

import keras
import numpy as np
import pytest

import keras_quadreg as kq
from keras_quadreg.explain import _classifier
from tests.conftest import small_cnn
from tests.explain.conftest import linear_model

ALL_METHODS = [
    "vanilla",
    "gradients_inputs",
    "smoothgrad",
    "integrated_gradients",
    "gradcam",
    "occlusion",
]
FAST_OPTIONS = {
    "smoothgrad": kq.explain.SmoothGrad(num_samples=3),
    "integrated_gradients": kq.explain.IntegratedGradients(steps=4),
    "occlusion": kq.explain.OcclusionSensitivity(patch_size=7),
}


@pytest.mark.parametrize("name", ALL_METHODS)
def test_each_method_gives_one_float32_map_per_image_on_batches(cnn, images, name):
    method = FAST_OPTIONS.get(name, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tf-explain's Keras 3 warnings are handled
        maps = kq.explain.saliency(cnn, images, method, batch_size=2)
    assert maps.shape == (5, 28, 28)
    assert maps.dtype == np.float32
    assert np.all(np.isfinite(maps)) and np.any(maps != 0)
    # Per-image results do not depend on how the images are batched.
    whole = kq.explain.saliency(cnn, images, method, batch_size=5)
    np.testing.assert_allclose(maps, whole, rtol=1e-4, atol=1e-6)


@pytest.fixture
def linear():
    weights = np.random.default_rng(1).normal(size=(16, 3)).astype(np.float32)
    x = np.random.default_rng(2).uniform(0, 1, (4, 4, 4, 1)).astype(np.float32)
    return weights, x


@pytest.mark.parametrize("head", [None, "softmax_layer"])
def test_vanilla_saliency_of_a_linear_model_is_the_weights_of_the_class(linear, head):
    weights, x = linear
    classes = np.array([0, 2, 1, 2])
    maps = kq.explain.saliency(linear_model(weights, head=head), x, "vanilla", classes)
    np.testing.assert_allclose(maps, weights[:, classes].T.reshape(4, 4, 4), rtol=1e-6)


def test_a_softmax_inside_the_last_layer_is_explained_on_log_probabilities(linear):
    weights, x = linear
    model = linear_model(weights, head="softmax_activation")
    maps = kq.explain.saliency(model, x, "vanilla", 1)
    p = np.asarray(model(x))
    expected = weights[:, 1][None] - p @ weights.T  # grad log p_1 = w_1 - sum_k p_k w_k
    np.testing.assert_allclose(maps, expected.reshape(4, 4, 4), rtol=1e-4, atol=1e-6)


def test_input_weighted_methods_on_a_linear_model(linear):
    weights, x = linear
    model = linear_model(weights)
    expected = x[..., 0] * weights[:, 1].reshape(4, 4)
    for method in ("gradients_inputs", kq.explain.IntegratedGradients(steps=3)):
        # Integrated gradients from zeros is exactly `x * w` for a linear score.
        np.testing.assert_allclose(kq.explain.saliency(model, x, method, 1), expected, rtol=1e-5)


def test_smoothgrad_of_a_linear_model_is_the_gradient_of_the_log_probability(linear):
    weights, x = linear
    model = linear_model(weights, bias=np.array([0.0, 50.0, -50.0], np.float32))
    # Class 1 dominates every noisy copy, so grad log p_1 = w_1 - sum_k p_k w_k ~ 0
    # and grad log p_2 ~ w_2 - w_1.
    maps = kq.explain.saliency(model, x, kq.explain.SmoothGrad(num_samples=4, noise=0.1), 2)
    expected = (weights[:, 2] - weights[:, 1]).reshape(4, 4)
    np.testing.assert_allclose(maps, np.broadcast_to(expected, maps.shape), rtol=1e-4, atol=1e-5)


def test_smoothgrad_is_reproducible_from_its_seed(cnn, images):
    method = kq.explain.SmoothGrad(num_samples=2)
    a = kq.explain.saliency(cnn, images, method, seed=3)
    b = kq.explain.saliency(cnn, images, method, seed=3)
    c = kq.explain.saliency(cnn, images, method, seed=4)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0


def test_classes_default_to_the_predictions(cnn, images):
    predicted = np.asarray(cnn(images)).argmax(axis=1)
    np.testing.assert_array_equal(
        kq.explain.saliency(cnn, images, "vanilla"),
        kq.explain.saliency(cnn, images, "vanilla", predicted),
    )


def test_gradcam_infers_the_last_4d_layer(cnn, images):
    inferred = kq.explain.saliency(cnn, images, "gradcam", 3)
    explicit = kq.explain.saliency(cnn, images, kq.explain.GradCAM(layer="madry_cnn_pool2"), 3)
    np.testing.assert_array_equal(inferred, explicit)
    assert inferred.min() >= 0  # the paper's ReLU
    conv1 = kq.explain.saliency(cnn, images, kq.explain.GradCAM(layer="madry_cnn_conv1"), 3)
    assert np.abs(conv1 - inferred).max() > 0


def test_occlusion_measures_the_drop_of_the_class_probability():
    # Two classes; class 0's score is 40 * (mean of the top-left 7x7 corner - 0.25).
    weights = np.zeros((28, 28, 2), np.float32)
    weights[:7, :7, 0] = 40.0 / 49
    inputs = keras.Input((28, 28, 1))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([weights.reshape(784, 2), np.array([-10.0, 0.0], np.float32)])
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, :7, :7] = 1.0
    p_clean = np.asarray(model(x))
    p_clean = np.exp(p_clean[0, 0]) / np.exp(p_clean[0]).sum()
    maps = kq.explain.saliency(model, x, kq.explain.OcclusionSensitivity(patch_size=7), 0)
    # The 0.5 grey patch halves the corner: p drops from sigmoid(30) to sigmoid(10).
    drop = p_clean - 1 / (1 + np.exp(-10.0))
    assert maps[0, 0, 0] == pytest.approx(drop, abs=1e-5)
    assert maps[0, 27, 27] == pytest.approx(0.0, abs=1e-6)


def test_registry_resolves_names_aliases_classes_and_instances():
    assert kq.explain.method_names() == sorted(ALL_METHODS)
    assert isinstance(kq.explain.get_method("Grad-CAM"), kq.explain.GradCAM)
    assert isinstance(kq.explain.get_method("vanilla_gradients"), kq.explain.VanillaGradients)
    assert isinstance(kq.explain.get_method(kq.explain.SmoothGrad), kq.explain.SmoothGrad)
    method = kq.explain.IntegratedGradients(steps=5)
    assert kq.explain.get_method(method) is method
    assert repr(method) == "IntegratedGradients(steps=5)"


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kq.explain.get_method("lime"),
            "Unknown method. Expected one of ['gradcam', 'gradients_inputs', "
            "'integrated_gradients', 'occlusion', 'smoothgrad', 'vanilla']. "
            "Received: method='lime'",
        ),
        (
            lambda: kq.explain.get_method(3),
            "Expected a SaliencyMethod, a SaliencyMethod subclass or a method name. "
            "Received: method=3",
        ),
        (
            lambda: kq.explain.SmoothGrad(num_samples=0),
            "Expected `num_samples` to be an integer >= 1. Received: num_samples=0",
        ),
        (
            lambda: kq.explain.SmoothGrad(noise=-1.0),
            "Expected `noise` to be a finite positive number. Received: noise=-1.0",
        ),
        (
            lambda: kq.explain.IntegratedGradients(steps=1),
            "Expected `steps` to be an integer >= 2. Received: steps=1",
        ),
        (
            lambda: kq.explain.GradCAM(layer=3),
            "Expected `layer` to be a layer name or None. Received: layer=3",
        ),
        (
            lambda: kq.explain.OcclusionSensitivity(patch_size=0),
            "Expected `patch_size` to be an integer >= 1. Received: patch_size=0",
        ),
    ],
)
def test_method_arguments_are_validated(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


def _with_nan():
    x = np.full((2, 28, 28, 1), 0.5, np.float32)
    x[0, 3, 3, 0] = np.nan
    return x


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"images": _with_nan()},
            "Expected `images` to be finite. Received: images with NaN or Inf values",
        ),
        (
            {"images": "abc"},
            "Expected `images` to be a numeric array or tensor. Received: images=str",
        ),
        (
            {"images": np.zeros((2, 28, 28), np.float32)},
            "Expected `images` to be a batch of the model's inputs, shape "
            "(batch, 28, 28, 1). Received: images.shape=(2, 28, 28)",
        ),
        (
            {"images": np.zeros((2, 32, 32, 1), np.float32)},
            "Expected `images` to be a batch of the model's inputs, shape "
            "(batch, 28, 28, 1). Received: images.shape=(2, 32, 32, 1)",
        ),
        (
            {"images": np.zeros((0, 28, 28, 1), np.float32)},
            "Expected `images` to hold at least one image. Received: images.shape=(0, 28, 28, 1)",
        ),
        (
            {"images": np.full((2, 28, 28, 1), 255.0, np.float32)},
            "Expected `images` to lie in value_range=(0.0, 1.0); pass the model's input "
            "range as `value_range`. Received: images with min=255, max=255",
        ),
        (
            {"classes": 10},
            "Expected `classes` to be class indices in [0, 10). "
            "Received: classes with min=10, max=10",
        ),
        (
            {"classes": [1, 2, 3]},
            "Expected `classes` to be a class index or one class index per image, "
            "shape (2,). Received: classes=[1, 2, 3]",
        ),
        (
            {"value_range": (1.0, 0.0)},
            "Expected `value_range` to be a pair of finite numbers (low, high) with "
            "low < high. Received: value_range=(1.0, 0.0)",
        ),
        (
            {"method": kq.explain.GradCAM(layer="missing")},
            "Expected `layer` to name a layer of model 'cnn' with a 4D output "
            "(batch, height, width, channels). Received: layer='missing'",
        ),
        (
            {"seed": -1},
            "Expected `seed` to be an integer >= 0. Received: seed=-1",
        ),
    ],
)
def test_bad_inputs_get_clear_errors(cnn, kwargs, message):
    kwargs = {"images": np.full((2, 28, 28, 1), 0.5, np.float32), "method": "vanilla", **kwargs}
    with pytest.raises(ValueError) as error:
        kq.explain.saliency(cnn, **kwargs)
    assert str(error.value) == message


def test_models_the_explainers_cannot_read_are_rejected():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError) as error:
        kq.explain.saliency(Subclassed(name="sub"), np.zeros((1, 2, 2, 1)))
    assert str(error.value) == (
        "Expected `model` to be a functional or Sequential Keras model built on a "
        "`keras.Input` (wrap a subclassed model with `kq.QuadRegModel.wrap(model, "
        "input_shape=...)`). Received: model='sub' with no symbolic inputs"
    )
    inputs = keras.Input((4, 4, 1))
    flat = keras.layers.Flatten()(inputs)
    two_heads = keras.Model(inputs, [keras.layers.Dense(2)(flat), keras.layers.Dense(2)(flat)])
    with pytest.raises(ValueError) as error:
        kq.explain.saliency(two_heads, np.zeros((1, 4, 4, 1)))
    assert (
        str(error.value)
        == "Expected `model` to have one input and one output. Received: 1 inputs and 2 outputs"
    )
    vectors = keras.Input((16,))
    with pytest.raises(ValueError) as error:
        kq.explain.saliency(keras.Model(vectors, keras.layers.Dense(2)(vectors)), np.zeros((1, 16)))
    assert str(error.value) == (
        "Expected `model` to take images of shape (batch, height, width, channels). "
        "Received: input shape=(None, 16)"
    )
    no_classes = keras.Model(inputs, keras.layers.Dense(1)(flat))
    with pytest.raises(ValueError) as error:
        kq.explain.saliency(no_classes, np.zeros((1, 4, 4, 1)))
    assert str(error.value) == (
        "Expected `model` to output class scores of shape (batch, classes) with at "
        "least 2 classes. Received: output shape=(None, 1)"
    )


def test_gradcam_needs_a_4d_layer_and_occlusion_square_images(linear):
    weights, x = linear
    with pytest.raises(ValueError) as error:
        kq.explain.saliency(linear_model(weights), x, "gradcam")
    assert (
        "Expected `model` to have a layer with a 4D output (batch, height, width, channels) "
        "for Grad-CAM, or pass `layer`. Received: model=" in str(error.value)
    )
    inputs = keras.Input((4, 6, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError) as error:
        kq.explain.saliency(model, np.zeros((1, 4, 6, 1)), "occlusion")
    assert str(error.value) == (
        "Expected square images for occlusion sensitivity (tf-explain 0.3.1 swaps "
        "height and width). Received: images.shape=(1, 4, 6, 1)"
    )


def test_a_model_keeps_one_classifier_view_while_it_lives():
    cnn = keras.Model(*small_cnn())
    view = _classifier.explainer_view(cnn)
    assert _classifier.explainer_view(cnn) is view
    reference = weakref.ref(cnn)
    del cnn, view
    gc.collect()
    assert reference() is None  # the cache does not keep the model alive


def test_register_makes_a_method_selectable_by_either_spelling(monkeypatch):
    registry = kq.explain.methods._METHODS
    monkeypatch.setattr(registry, "_classes", dict(registry._classes))
    monkeypatch.setattr(registry, "_aliases", dict(registry._aliases))

    @kq.explain.register("input_times_two", "twice_the_input")
    class TwiceTheInput(kq.explain.SaliencyMethod):
        def explain_batch(self, classifier, images, targets, **unused):
            return 2.0 * images.sum(axis=-1)

    assert TwiceTheInput.name == "input_times_two"
    assert "input_times_two" in kq.explain.method_names()
    for spelling in ("input-times-two", "Twice_The_Input", "TwiceTheInput"):
        assert isinstance(kq.explain.get_method(spelling), TwiceTheInput)
    with pytest.raises(ValueError) as error:
        kq.explain.register("not_a_method")(int)
    assert str(error.value) == (
        "Expected a subclass of kq.explain.SaliencyMethod. Received: cls=<class 'int'>"
    )

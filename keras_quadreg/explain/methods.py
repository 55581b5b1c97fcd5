"""Saliency maps through tf-explain, one class per image, on batches.

Each method calls tf-explain 0.3.1's own computation (`tf_explain.core`)
and works around what breaks or misleads there under Keras 3, without
patching it:

- every method explains one `class_index` per batch: the classifier's
  target-first view (`_classifier.py`) explains each image's own class;
- `GradCAM` infers its layer with `layer.output_shape`, which Keras 3 layers
  lack: the layer is inferred here from `layer.output.shape`;
- `GradCAM` builds its gradient model from `[model.inputs]`, which Keras 3
  warns about on every call: that warning is silenced around the call;
- `VanillaGradients.get_score_model` warns for models that output logits (the
  usual case here): scores come from `ExplainerView.scores` instead;
- tf-explain's `explain` methods return display grids whose grayscale
  normalization wraps negative values through `uint8`: only the raw
  attributions are used;
- `SmoothGrad` draws noise from NumPy's global generator: the noise is drawn
  here from a seed, per image, so maps do not depend on the batch size;
- `IntegratedGradients` returns the path-averaged gradient without
  multiplying by `images - baseline`: the product is taken here;
- `OcclusionSensitivity` paints patches with 127.5 (the middle of [0, 255]),
  reports `1 - p(occluded)`, prints a progress bar per image through
  `model.predict`, and mixes up height and width: images are rescaled to
  [0, 255] so the patch is the middle of `value_range`, the map is shifted
  to `p(image) - p(occluded)`, predictions are silent, and only square images
  are accepted.

Every method returns signed float32 maps `(batch, height, width)`, summed
over channels; positive values support the explained class.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf
from tf_explain import core as tfx

from keras_quadreg import _registry, _validation
from keras_quadreg.explain import _classifier


class SaliencyMethod:
    """Base class of the saliency methods: one attribution map per image.

    Subclasses implement `explain_batch`; `kq.explain.saliency` validates the
    inputs, splits them into batches and resolves the classes.
    """

    #: The registered name (set by `register`).
    name = None

    def explain_batch(self, classifier, images, targets, *, offset, seed, value_range):
        """Maps `(batch, height, width)` of `targets` on one batch of `images`.

        Args:
            classifier: The `ExplainerView` of the model (its class scores and the
                target-first view the methods explain through).
            images: Checked float32 images `(batch, height, width, channels)`.
            targets: Class index per image, int64 `(batch,)`.
            offset: Index of `images[0]` in the whole input, for per-image seeds.
            seed: The caller's integer seed.
            value_range: `(low, high)`, the model's valid input range.
        """
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"


_METHODS = _registry.Registry(
    "method", SaliencyMethod, "kq.explain.SaliencyMethod", serializable=False
)


def register(name, *aliases):
    """Class decorator making a `SaliencyMethod` selectable by `name` and
    `aliases` (its `name` is then `name`).

    Example:

    ```python
    @kq.explain.register("my_saliency")
    class MySaliency(kq.explain.SaliencyMethod):
        def explain_batch(self, classifier, images, targets, **unused): ...
    ```
    """
    return _METHODS.register(name, *aliases, attributes={"name": name})


def _channel_sum(attributions):
    return np.asarray(tf.reduce_sum(attributions, axis=-1), np.float32)


@register("vanilla", "vanilla_gradients")
class VanillaGradients(SaliencyMethod):
    """Gradient of the class score with respect to the input.

    tf-explain's `VanillaGradients.compute_gradients` (Simonyan et al. 2014).
    For a linear model the map is the class's weight image.

    Example:

    ```python
    maps = kq.explain.saliency(model, images, kq.explain.VanillaGradients())
    ```
    """

    _tf_explain = tfx.VanillaGradients

    def explain_batch(self, classifier, images, targets, **unused):
        classifier.set_targets(targets)
        gradients = self._tf_explain.compute_gradients(
            tf.constant(images), classifier.targeted_scores, 0
        )
        return _channel_sum(gradients)


@register("gradients_inputs", "gradients_x_inputs")
class GradientsInputs(VanillaGradients):
    """Gradient times input, tf-explain's `GradientsInputs`."""

    _tf_explain = tfx.GradientsInputs


@register("smoothgrad")
class SmoothGrad(SaliencyMethod):
    """Gradients averaged over noisy copies of the input (Smilkov et al. 2017).

    tf-explain's `SmoothGrad.get_averaged_gradients`, which differentiates the
    cross-entropy of the class; the map is its negation, the gradient of the
    class's log-probability.

    Example:

    ```python
    maps = kq.explain.saliency(model, images, kq.explain.SmoothGrad(num_samples=32, noise=0.1))
    ```

    Args:
        num_samples: Noisy copies per image, >= 1.
        noise: Standard deviation of the Gaussian noise, in input units; the
            paper recommends 10-20% of the input range.
    """

    def __init__(self, num_samples=16, noise=0.15):
        self.num_samples = _validation.integer("num_samples", num_samples, minimum=1)
        self.noise = _validation.positive_number("noise", noise)

    def explain_batch(self, classifier, images, targets, *, offset, seed, **unused):
        k = self.num_samples
        noise = np.concatenate(
            [
                np.random.default_rng([seed, offset + i]).normal(0.0, self.noise, (k, *image.shape))
                for i, image in enumerate(images)
            ]
        )
        # tf-explain's layout: the k copies of an image are consecutive.
        noisy = (np.repeat(images, k, axis=0) + noise).astype(np.float32)
        classifier.set_targets(np.repeat(targets, k))
        gradients = tfx.SmoothGrad.get_averaged_gradients(
            tf.constant(noisy), classifier.targeted_probabilities, 0, k
        )
        return -_channel_sum(gradients)

    def get_config(self):
        return {"num_samples": self.num_samples, "noise": self.noise}


@register("integrated_gradients")
class IntegratedGradients(SaliencyMethod):
    """Integrated gradients from a black baseline (Sundararajan et al. 2017).

    tf-explain's interpolation path and path-averaged gradient, multiplied by
    `images - 0` as in the paper, so a map sums to about
    `score(image) - score(zeros)`.

    Args:
        steps: Points on the straight path from zeros to the image, >= 2.
    """

    def __init__(self, steps=16):
        self.steps = _validation.integer("steps", steps, minimum=2)

    def explain_batch(self, classifier, images, targets, **unused):
        path = tfx.IntegratedGradients.generate_interpolations(images, self.steps)
        classifier.set_targets(np.repeat(targets, self.steps))
        average = tfx.IntegratedGradients.get_integrated_gradients(
            tf.constant(path, tf.float32), classifier.targeted_scores, 0, self.steps
        )
        return _channel_sum(images * average)

    def get_config(self):
        return {"steps": self.steps}


def infer_gradcam_layer(model):
    """Name of the last layer of `model` with a 4D output, as Grad-CAM uses.

    tf-explain's `GradCAM.infer_grad_cam_target_layer` reads
    `layer.output_shape`, which Keras 3 layers no longer have.
    """
    for layer in reversed(model.layers):
        if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4:
            return layer.name
    raise ValueError(
        "Expected `model` to have a layer with a 4D output (batch, height, "
        "width, channels) for Grad-CAM, or pass `layer`. "
        f"Received: model={model.name!r} with no such layer"
    )


def _check_gradcam_layer(model, name):
    try:
        layer = model.get_layer(name)
    except ValueError:
        layer = None
    if layer is None or len(layer.output.shape) != 4:
        raise ValueError(
            f"Expected `layer` to name a layer of model {model.name!r} with a 4D "
            f"output (batch, height, width, channels). Received: layer={name!r}"
        )
    return name


@register("gradcam", "grad_cam")
class GradCAM(SaliencyMethod):
    """Grad-CAM (Selvaraju et al. 2017), upsampled to the image.

    tf-explain's `GradCAM.get_gradients_and_filters` and
    `generate_ponderated_output`, followed by the paper's ReLU and a bilinear
    resize to the image size.

    Example:

    ```python
    maps = kq.explain.saliency(model, images, kq.explain.GradCAM(layer="conv2"))
    ```

    Args:
        layer: Name of the convolutional layer; None infers the last layer
            with a 4D output.
        use_guided_grads: Keep only positive gradients at positive
            activations (tf-explain's default).
    """

    def __init__(self, layer=None, use_guided_grads=True):
        if layer is not None and not isinstance(layer, str):
            raise ValueError(
                f"Expected `layer` to be a layer name or None. Received: layer={layer!r}"
            )
        self.layer = layer
        self.use_guided_grads = _validation.flag("use_guided_grads", use_guided_grads)

    def explain_batch(self, classifier, images, targets, **unused):
        model = classifier.scores
        layer = (
            infer_gradcam_layer(model)
            if self.layer is None
            else _check_gradcam_layer(model, self.layer)
        )
        classifier.set_targets(targets)
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="The structure of `inputs` doesn't match", category=UserWarning
            )
            outputs, gradients = tfx.GradCAM.get_gradients_and_filters(
                classifier.targeted_scores, tf.constant(images), layer, 0, self.use_guided_grads
            )
        cams = tf.nn.relu(tf.stack(tfx.GradCAM.generate_ponderated_output(outputs, gradients)))
        resized = tf.image.resize(cams[..., None], images.shape[1:3], method="bilinear")
        return np.asarray(resized[..., 0], np.float32)

    def get_config(self):
        return {"layer": self.layer, "use_guided_grads": self.use_guided_grads}


class _Predictor:
    """The `model.predict` tf-explain's occlusion calls: the probability of
    one class, silent, on images rescaled from [0, 255] to the input range."""

    def __init__(self, classifier, target, low, scale):
        self._classifier = classifier
        self._target = target
        self._low = low
        self._scale = scale

    def predict(self, patched, batch_size=None):
        images = (np.asarray(patched, np.float32) / self._scale + self._low).astype(np.float32)
        probabilities = self._classifier.probabilities(images, len(images))
        return probabilities[:, self._target : self._target + 1]


@register("occlusion", "occlusion_sensitivity")
class OcclusionSensitivity(SaliencyMethod):
    """Drop in the class probability when a square patch is greyed out.

    tf-explain's `OcclusionSensitivity.get_sensitivity_map`, with patches of
    the middle value of `value_range`. The map is `p(image) - p(occluded)`,
    bilinearly resized from the patch grid. Square images only.

    Args:
        patch_size: Side of the square patch, in pixels.
    """

    def __init__(self, patch_size=4):
        self.patch_size = _validation.integer("patch_size", patch_size, minimum=1)

    def explain_batch(self, classifier, images, targets, *, value_range, **unused):
        height, width = images.shape[1:3]
        if height != width:
            raise ValueError(
                "Expected square images for occlusion sensitivity (tf-explain 0.3.1 "
                f"swaps height and width). Received: images.shape={images.shape}"
            )
        low, high = value_range
        scale = 255.0 / (high - low)
        explainer = tfx.OcclusionSensitivity()
        clean = classifier.probabilities(images, len(images))
        maps = []
        for image, target, probabilities in zip(images, targets, clean):
            predictor = _Predictor(classifier, int(target), low, scale)
            sensitivity = explainer.get_sensitivity_map(
                predictor, (image - low) * scale, 0, self.patch_size
            )
            maps.append(sensitivity - (1.0 - probabilities[target]))
        return np.asarray(maps, np.float32)

    def get_config(self):
        return {"patch_size": self.patch_size}


# What `kq.explain`, `compare` and `interpretability_scores` compute by default.
DEFAULT_METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "gradcam")

names = _METHODS.names
classes = _METHODS.classes


def get(method):
    """Resolves a saliency method from a name, a class or an instance.

    Example:

    ```python
    kq.explain.get_method("smoothgrad")          # SmoothGrad()
    kq.explain.get_method(kq.explain.GradCAM(layer="conv2"))
    ```
    """
    return _METHODS.get(method)


def compute(classifier, method, images, targets, *, value_range, batch_size, seed):
    """Maps for checked inputs and a resolved method, batch by batch."""
    maps = [
        method.explain_batch(
            classifier,
            images[start : start + batch_size],
            targets[start : start + batch_size],
            offset=start,
            seed=seed,
            value_range=value_range,
        )
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(maps)


def saliency(
    model, images, method="vanilla", classes=None, *, value_range=(0.0, 1.0), batch_size=32, seed=0
):
    """Saliency maps of a batch of images, one class per image.

    Example:

    ```python
    maps = kq.explain.saliency(model, x_test[:8], "integrated_gradients")
    maps.shape        # (8, 28, 28)
    ```

    Args:
        model: A functional or Sequential Keras classifier (logits or
            softmax outputs) with one image input.
        images: Images `(batch, height, width, channels)` in `value_range`.
        method: A name from `kq.explain.method_names()`, or a
            `SaliencyMethod` (e.g. `kq.explain.SmoothGrad(num_samples=32)`).
        classes: Class to explain per image: None (the predicted class), an
            int, or one int per image.
        value_range: `(low, high)`, the model's valid input range.
        batch_size: Images per tf-explain call.
        seed: Integer seed of the random methods (SmoothGrad).

    Returns:
        Signed float32 maps `(batch, height, width)`, summed over channels.
    """
    method = get(method)
    classifier = _classifier.explainer_view(model)
    value_range = _classifier.check_value_range(value_range)
    images = _classifier.check_images(images, classifier, value_range)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    seed = _validation.integer("seed", seed)
    targets = resolve_classes(classifier, images, classes, batch_size)
    return compute(
        classifier,
        method,
        images,
        targets,
        value_range=value_range,
        batch_size=batch_size,
        seed=seed,
    )


def resolve_classes(classifier, images, classes, batch_size):
    """`classes` as one index per image; None means the predicted classes."""
    if classes is None:
        return classifier.probabilities(images, batch_size).argmax(axis=1).astype(np.int64)
    return _classifier.check_classes(classes, len(images), classifier.num_classes)

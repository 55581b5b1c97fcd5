"""A Keras classifier as the explainers see it: class scores, probabilities,
and a view tf-explain can explain one class per image through.

tf-explain 0.3.1 explains one `class_index` for a whole batch. Explaining
each image's own class (its prediction, its label, a counterfactual target)
would take one call, and one `tf.function` trace, per class and group size.
Instead `ExplainerView.targeted_scores` is the score model followed by a layer
that swaps each image's target class into column 0, so tf-explain's
`class_index=0` explains a different class per image; the targets live in a
variable, set before each call, so tf-explain's functions trace once per
input shape.

`explainer_view(model)` builds this view once per model and keeps it while the
model lives, so repeated calls (a callback each epoch, batches of a metric)
reuse the traced functions. The target variable makes a view unsafe to use
from several threads at once.
"""

import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _outputs, _validation


class _TargetFirst(keras.layers.Layer):
    """Swaps column `targets[i]` of row `i` with column 0."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A plain `tf.Variable`, not a Keras weight: runtime input, not state.
        self.targets = tf.Variable(
            tf.zeros([0], tf.int32), shape=tf.TensorShape([None]), trainable=False
        )

    def call(self, scores):
        classes = tf.range(tf.shape(scores)[1])[None, :]
        targets = self.targets[:, None]
        order = tf.where(classes == 0, targets, tf.where(classes == targets, 0, classes))
        return tf.gather(scores, order, batch_dims=1)

    def compute_output_shape(self, input_shape):
        return input_shape


def _score_output(model):
    """The tensor of class scores: logits, or log-probabilities.

    Whether the model outputs probabilities is decided as everywhere in
    keras_quadreg (`keras_quadreg._outputs`), with a batch of zeros as the
    sample when neither the compiled loss nor the last layer says. Of a
    model that outputs probabilities, a final `Softmax` (or
    `Activation("softmax")`) layer is skipped, as tf-explain's
    `VanillaGradients.get_score_model` does; other probabilities (a
    `Dense(..., activation="softmax")`) are undone with a log, which has the
    logits' input gradients up to the log-sum-exp term.
    """
    output = model.outputs[0]
    shape = tuple(model.inputs[0].shape[1:])
    sample = np.zeros((1, *shape), np.float32) if None not in shape else None
    if _outputs.from_logits(model, sample=sample, call=lambda x: model(x, training=False)):
        return output
    last = model.layers[-1]
    softmax_layer = isinstance(last, (keras.layers.Softmax, keras.layers.Activation))
    if softmax_layer and _outputs.ends_in_softmax(last) and last.output is output:
        return last.input
    return _outputs.log_probabilities(output)


def check_model(model):
    """Checks `model` is a built functional/Sequential single-output classifier."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected `model` to be a keras.Model. Received: model={model!r}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            "Expected `model` to be a functional or Sequential Keras model built "
            "on a `keras.Input` (wrap a subclassed model with "
            "`kq.QuadRegModel.wrap(model, input_shape=...)`). "
            f"Received: model={model.name!r} with no symbolic inputs"
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            "Expected `model` to have one input and one output. "
            f"Received: {len(inputs)} inputs and {len(outputs)} outputs"
        )
    if len(inputs[0].shape) != 4:
        raise ValueError(
            "Expected `model` to take images of shape (batch, height, width, "
            f"channels). Received: input shape={tuple(inputs[0].shape)}"
        )
    shape = outputs[0].shape
    if len(shape) != 2 or shape[-1] is None or shape[-1] < 2:
        raise ValueError(
            "Expected `model` to output class scores of shape (batch, classes) "
            f"with at least 2 classes. Received: output shape={tuple(shape)}"
        )
    return model


class ExplainerView:
    """What every explainer needs of one model.

    It holds no reference to the model itself (only to its layers), so the
    cache in `explainer_view` does not keep models alive.

    Attributes:
        name: The model's name.
        scores: Model of the class scores (logits or log-probabilities).
        targeted_scores: `scores` with each image's target in column 0.
        targeted_probabilities: Softmax of `targeted_scores`.
        num_classes: Number of classes.
        input_shape: Shape of one input, no batch axis.
        input_spec: `tf.TensorSpec` of a float32 batch of inputs.
    """

    def __init__(self, model):
        check_model(model)
        self.name = model.name
        inputs = model.inputs[0]
        self.input_shape = tuple(inputs.shape[1:])
        self.num_classes = int(model.outputs[0].shape[-1])
        score_output = _score_output(model)
        self.scores = keras.Model(inputs, score_output, name=model.name)
        self._target_first = _TargetFirst(name="target_first")
        targeted = self._target_first(score_output)
        self.targeted_scores = keras.Model(inputs, targeted, name=f"{model.name}_targeted")
        self.targeted_probabilities = keras.Model(
            inputs, keras.layers.Softmax()(targeted), name=f"{model.name}_targeted_probabilities"
        )
        self.input_spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
        # One trace for every batch size.
        self._probabilities = tf.function(self._softmax, input_signature=[self.input_spec])
        self._functions = {}

    def function(self, key, build):
        """The function `build()` returns, built once per hashable `key` and
        kept with this view, so its `tf.function` traces are reused."""
        if key not in self._functions:
            self._functions[key] = build()
        return self._functions[key]

    def set_targets(self, targets):
        """Selects the class each row of the next targeted call explains."""
        self._target_first.targets.assign(np.asarray(targets, np.int32))

    def _softmax(self, x):
        scores = self.scores(x)
        return tf.nn.softmax(scores), tf.reduce_all(tf.math.is_finite(scores), axis=-1)

    def probabilities(self, images, batch_size):
        """Softmax of the scores, as a NumPy array `(n, classes)`, after
        checking the scores of every image are finite (the softmax of NaN
        scores would explain nothing, and silently)."""
        if not len(images):
            return np.zeros((0, self.num_classes), np.float32)
        chunks = [
            self._probabilities(tf.constant(images[i : i + batch_size], tf.float32))
            for i in range(0, len(images), batch_size)
        ]
        _validation.finite_outputs(
            np.concatenate([finite.numpy() for _, finite in chunks]),
            lambda index: self.scores(tf.constant(images[index], tf.float32)).numpy(),
            what="images",
        )
        return np.concatenate([probabilities.numpy() for probabilities, _ in chunks])

    def cross_entropy(self, targets, x):
        """Per-example cross-entropy of the scores at `x` against `targets`."""
        return tf.nn.sparse_softmax_cross_entropy_with_logits(targets, self.scores(x))


_VIEWS = weakref.WeakKeyDictionary()


def explainer_view(model):
    """The `ExplainerView` of `model`, built on first use, once its weights are
    checked to be finite (explanations of a diverged model are NaN)."""
    check_model(model)
    _validation.finite_weights(model)
    if model not in _VIEWS:
        _VIEWS[model] = ExplainerView(model)
    return _VIEWS[model]


def for_model(model, routine, *args, **kwargs):
    """`routine`, a function of `{name: ExplainerView}` and further arguments,
    run for `model` alone: its result for `model`. The one-model functions of
    `kq.explain` are their many-model forms on a single view."""
    return routine({model.name: explainer_view(model)}, *args, **kwargs)[model.name]


def explainer_views(models):
    """`{name: ExplainerView}` of `models`, a non-empty dict of name ->
    classifier, once checked to share their classes."""
    if (
        not isinstance(models, dict)
        or not models
        or not all(isinstance(m, keras.Model) for m in models.values())
    ):
        raise ValueError(
            "Expected `models` to be a non-empty dict of name -> keras.Model. "
            f"Received: models={describe(models)}"
        )
    classifiers = {str(name): explainer_view(model) for name, model in models.items()}
    num_classes = {name: c.num_classes for name, c in classifiers.items()}
    if len(set(num_classes.values())) != 1:
        raise ValueError(
            f"Expected `models` with the same classes. Received: classes per model={num_classes}"
        )
    return classifiers


def check_images_for_all(images, classifiers, value_range):
    """`check_images` against each of `classifiers` (a dict); returns the checked images."""
    first, *others = classifiers.values()
    images = check_images(images, first, value_range)
    for classifier in others:
        check_images(images, classifier, value_range)
    return images


def check_value_range(value_range):
    """Returns `value_range` as a pair of floats `(low, high)`, `low < high`."""
    return _outputs.check_range("value_range", value_range)


def check_images(images, classifier, value_range, name="images"):
    """Returns `images` as a float32 NumPy batch of the model's input shape,
    finite and within `value_range`."""
    try:
        array = np.asarray(images)
    except (TypeError, ValueError):
        array = None
    if array is None or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(
            f"Expected `{name}` to be a numeric array or tensor. "
            f"Received: {name}={type(images).__name__}"
        )
    array = array.astype(np.float32)
    expected = classifier.input_shape
    if array.ndim != len(expected) + 1 or any(
        want is not None and want != got for want, got in zip(expected, array.shape[1:])
    ):
        raise ValueError(
            f"Expected `{name}` to be a batch of the model's inputs, shape "
            f"(batch, {', '.join(str(d) for d in expected)}). "
            f"Received: {name}.shape={array.shape}"
        )
    if len(array) == 0:
        raise ValueError(
            f"Expected `{name}` to hold at least one image. Received: {name}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Expected `{name}` to be finite. Received: {name} with NaN or Inf values")
    low, high = value_range
    slack = _outputs.range_slack(low, high)
    if array.min() < low - slack or array.max() > high + slack:
        raise ValueError(
            f"Expected `{name}` to lie in value_range=({low}, {high}); pass the "
            "model's input range as `value_range`. "
            f"Received: {name} with min={array.min():g}, max={array.max():g}"
        )
    return array


def check_classes(classes, count, num_classes, name="classes"):
    """Per-image class indices, int64 `(count,)`, from an int or a sequence."""
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        classes = np.full(count, int(classes))
    array = np.asarray(classes)
    if (
        array.ndim != 1
        or len(array) != count
        or not (
            np.issubdtype(array.dtype, np.integer)
            or (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)))
        )
    ):
        raise ValueError(
            f"Expected `{name}` to be a class index or one class index per "
            f"image, shape ({count},). Received: {name}={describe(classes)}"
        )
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"Expected `{name}` to be class indices in [0, {num_classes}). "
            f"Received: {name} with min={array.min()}, max={array.max()}"
        )
    return array


def describe(value):
    """A short repr of `value` for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

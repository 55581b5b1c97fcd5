"""Checks of a training or evaluation batch, before it reaches the model.

Shape and dtype problems raise `ValueError` while the step is traced. Value
problems (NaN, labels out of range) raise `tf.errors.InvalidArgumentError`
with the messages below when the step runs, eagerly or as a graph. XLA
compiles assertions away: under `jit_compile=True` the training step returns
the conditions as flags instead, and `raising` raises outside it.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _outputs

NON_FINITE_INPUTS = "QuadRegModel: the inputs contain NaN or Inf values."
NON_FINITE_TARGETS = "QuadRegModel: the targets contain NaN or Inf values."
LABEL_NOT_INTEGER = "QuadRegModel: class labels must be whole numbers."
LABEL_BELOW_ZERO = "QuadRegModel: class labels must be >= 0."
LABEL_TOO_LARGE = "QuadRegModel: class labels must be < the number of classes ({})."
BAD_SAMPLE_WEIGHT = "QuadRegModel: sample weights must be finite and >= 0."
# No quotes in messages: graph-mode assertions print them escaped.
OUTSIDE_BOX = (
    "QuadRegModel: the inputs must lie in [clip_min, clip_max] = [{}, {}], the "
    "valid input range of the threat model of the regularizer."
)


def single(value, what):
    """Unwraps a one-element list/tuple/dict; rejects several tensors."""
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    if isinstance(value, (list, tuple, dict)):
        raise ValueError(
            f"QuadRegModel supports models with a single {what} tensor: the "
            f"regularizers perturb one input and penalize one output. "
            f"Received: {len(value)} {what}s"
        )
    return value


def outputs_match_loss(model, from_logits):
    """Warns when the loss says probabilities (`from_logits=False`) but the
    model, probed on a batch of zeros, outputs something else: the
    cross-entropy and the regularizers would then read logits as
    probabilities and train without any error. Models whose input shape is
    not fully known, or with one output unit, are not probed."""
    if from_logits is not False or not getattr(model, "inputs", None):
        return
    spec = single(model.inputs, "input")
    if None in spec.shape[1:]:
        return
    outputs = single(model(tf.zeros((2, *spec.shape[1:]), spec.dtype), training=False), "output")
    if outputs.shape[-1] == 1 or _outputs.looks_like_probabilities(outputs):
        return
    warnings.warn(
        "The compiled loss has from_logits=False, so the model should output "
        "probabilities, but its outputs on zero inputs are not probability "
        "vectors (rows in [0, 1] that sum to 1): if the model outputs logits, "
        "compile with `from_logits=True`. Received: outputs[0]="
        f"{np.round(np.asarray(outputs[0], np.float64), 4).tolist()}",
        stacklevel=3,
    )


def ran_steps(history):
    """Raises if `fit` ran epochs without a single training step."""
    if history.epoch and not history.history:
        raise ValueError(
            "Expected the training data to hold at least one batch: fit ran "
            f"{len(history.epoch)} epoch(s) without a training step (an empty "
            "array, or a dataset that yields nothing). Received: 0 training batches"
        )


def _all_finite(tensor):
    return tf.reduce_all(tf.math.is_finite(tensor))


def _checked(tensor, conditions):
    """`tensor`, made to depend on the assertions of `conditions`, pairs
    `(holds, message)`, so they run before any use.

    Only the first failed condition asserts, so a value failing several (a
    NaN label is not whole either) gets its message, as under XLA, whatever
    order the graph runs the assertions in. Eagerly they have already run.
    """
    if not conditions:
        return tensor
    assertions, earlier = [], tf.constant(True)
    for holds, message in conditions:
        assertions.append(
            tf.debugging.Assert(tf.logical_or(holds, tf.logical_not(earlier)), [message])
        )
        earlier = tf.logical_and(earlier, holds)
    with tf.control_dependencies(assertions):
        return tf.identity(tensor)


def inputs(x, threat_model):
    """Returns `x` as a floating-point tensor, after checking its values."""
    x = tf.convert_to_tensor(single(x, "input"))
    if not x.dtype.is_floating:
        x = tf.cast(x, keras.backend.floatx())
    return _checked(x, input_conditions(x, threat_model))


def input_conditions(x, threat_model):
    conditions = [(_all_finite(x), NON_FINITE_INPUTS)]
    if threat_model is not None and threat_model.has_box:
        low, high = threat_model.clip_min, threat_model.clip_max
        slack = _outputs.range_slack(low, high)
        inside = tf.logical_and(
            tf.reduce_all(x >= tf.cast(low - slack, x.dtype)),
            tf.reduce_all(x <= tf.cast(high + slack, x.dtype)),
        )
        conditions.append((inside, OUTSIDE_BOX.format(low, high)))
    return conditions


def targets(y, output_shape, sparse=False):
    """Checks `y` against the model's output shape: class indices, or targets
    of the output's shape (not for a `sparse` loss, which takes indices)."""
    if y is None:
        raise ValueError(
            "QuadRegModel needs targets to train and evaluate: pass `y`, or a "
            "dataset of `(x, y)` pairs. Received: y=None"
        )
    y = tf.convert_to_tensor(single(y, "target"))
    return _checked(y, target_conditions(y, output_shape, sparse))


def target_conditions(y, output_shape, sparse=False):
    """The value conditions of `y`, after checking its shape statically."""
    if y.shape.rank is None or output_shape.rank is None:
        return []  # nothing to compare statically
    classes, rank = output_shape[-1], output_shape.rank
    squeezed = y.shape.rank == rank - 1
    if (classes or 0) > 1 and (squeezed or (y.shape.rank == rank and y.shape[-1] == 1)):
        return _class_index_conditions(y, classes)
    if sparse:
        raise ValueError(
            "Expected class indices of shape (batch,) or (batch, 1) for the sparse "
            "cross-entropy the model was compiled with; one-hot targets need "
            f"keras.losses.CategoricalCrossentropy. Received: y.shape={tuple(y.shape)}"
        )
    if (
        not (squeezed and classes == 1)
        and (  # (batch,) targets of (batch, 1) outputs are fine
            y.shape.rank != rank or not y.shape[1:].is_compatible_with(output_shape[1:])
        )
    ):
        raise ValueError(
            "Expected targets to be class indices of shape (batch,) or (batch, 1), "
            f"or to have the outputs' shape {tuple(output_shape)}. "
            f"Received: y.shape={tuple(y.shape)}"
        )
    return [(_all_finite(y), NON_FINITE_TARGETS)] if y.dtype.is_floating else []


def _class_index_conditions(y, classes):
    conditions = []
    if y.dtype.is_floating:
        conditions += [
            (_all_finite(y), NON_FINITE_TARGETS),
            (tf.reduce_all(tf.equal(y, tf.round(y))), LABEL_NOT_INTEGER),
        ]
    conditions += [
        (tf.reduce_all(y >= 0), LABEL_BELOW_ZERO),
        (tf.reduce_all(y < tf.cast(classes, y.dtype)), LABEL_TOO_LARGE.format(classes)),
    ]
    return conditions


def sample_weights(sample_weight):
    if sample_weight is None:
        return None
    sample_weight = tf.convert_to_tensor(single(sample_weight, "sample weight"))
    if not sample_weight.dtype.is_floating:
        sample_weight = tf.cast(sample_weight, keras.backend.floatx())
    return _checked(sample_weight, sample_weight_conditions(sample_weight))


def sample_weight_conditions(sample_weight):
    if sample_weight is None:
        return []
    valid = tf.logical_and(_all_finite(sample_weight), tf.reduce_all(sample_weight >= 0))
    return [(valid, BAD_SAMPLE_WEIGHT)]


# The log key of the flags, one per condition (1.0: it failed on some replica).
VIOLATIONS = "_quadreg_batch_violations"


def violations(conditions):
    """The flags of `conditions` for the log `VIOLATIONS`."""
    return tf.stack([1.0 - tf.cast(holds, tf.float32) for holds, _ in conditions])


def raising(train_function, messages):
    """`train_function`, raising the `InvalidArgumentError` graph mode would
    for the first failed condition; `messages()` gives the conditions'
    messages (known once the step is traced)."""

    def checked(iterator):
        logs = train_function(iterator)
        failed = np.flatnonzero(np.asarray(logs.pop(VIOLATIONS)).reshape(-1) > 0)
        if failed.size:
            raise tf.errors.InvalidArgumentError(None, None, messages()[failed[0]])
        return logs

    return checked

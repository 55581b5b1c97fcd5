"""The classifier contract: what a model outputs, and the inputs it takes.

Training, attacks, explanations and export all read a model through this
module, so they agree on every model. A model outputs logits or
probabilities, decided in this order:

1. the compiled loss: a cross-entropy's `from_logits`;
2. the final activation: a last layer that is, or ends in, a softmax
   outputs probabilities; a last layer with a linear activation (a plain
   `Dense`) outputs logits;
3. the caller's explicit `from_logits` (an explicit value that contradicts
   1 or 2 is an error);
4. for a model neither says anything about (a plain callable, a custom last
   layer), whether its outputs on a sample batch are probability vectors.

Probabilities become logits through their log, floored at `LOG_FLOOR`.
Inputs lie in a range `(low, high)` up to `RANGE_TOLERANCE` of its width.
"""

import inspect
import math
import numbers

import keras
import numpy as np
import tensorflow as tf

# Smallest positive normal float32: the log of any probability a float32
# softmax can output stays finite.
LOG_FLOOR = float(np.finfo(np.float32).tiny)

# Inputs may exceed their range by this fraction of its width, for values
# rounded on their way into it.
RANGE_TOLERANCE = 1e-5


def _single(value):
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def loss_from_logits(loss):
    """`from_logits` of a loss (a `keras.losses.Loss`, its name, or a
    function with a `from_logits` default), or None when it does not say."""
    loss = _single(loss)
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None
    try:
        loss = keras.losses.get(loss)
    except (ValueError, TypeError):
        return None
    if isinstance(loss, keras.losses.Loss):
        return loss.get_config().get("from_logits")
    if callable(loss):
        try:
            parameter = inspect.signature(loss).parameters.get("from_logits")
        except (TypeError, ValueError):  # no signature to read
            return None
        return None if parameter is None else parameter.default
    return None


def final_layer(model):
    """The layer whose output is the output of a functional or Sequential
    model, looking inside a model that is its only layer (`QuadRegModel.wrap`),
    or None."""
    if not isinstance(model, keras.Model):
        return None
    try:
        outputs, layers = model.outputs, model.layers
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1 or not layers:
        return None
    last = layers[-1]
    inner = [layer for layer in layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(last, keras.Model) and len(inner) == 1:
        return final_layer(last)
    return last if getattr(last, "output", None) is outputs[0] else None


def ends_in_softmax(layer):
    """Whether `layer` is a softmax (`Softmax`, `Activation("softmax")`) or
    ends in one (`Dense(..., activation="softmax")`)."""
    return isinstance(layer, keras.layers.Softmax) or (
        getattr(layer, "activation", None) is keras.activations.softmax
    )


def activation_from_logits(model):
    """What the final activation says: False (softmax), True (linear), or None."""
    layer = final_layer(model)
    if layer is None:
        return None
    if ends_in_softmax(layer):
        return False
    if getattr(layer, "activation", None) is keras.activations.linear:
        return True
    return None


def compiled_from_logits(model):
    """`from_logits` of the model's compiled loss, or None."""
    if not isinstance(model, keras.Model) or not model.compiled:
        return None
    return loss_from_logits(getattr(model, "loss", None))


def infer_from_logits(model):
    """Rules 1 and 2: what the compiled loss, else the final activation,
    says the model outputs (True: logits), or None."""
    compiled = compiled_from_logits(model)
    return compiled if compiled is not None else activation_from_logits(model)


def looks_like_probabilities(outputs):
    """Whether every row of `outputs` is a probability vector (up to float error)."""
    outputs = np.asarray(outputs, np.float64)
    return bool(
        outputs.ndim == 2
        and outputs.shape[-1] > 1
        and np.all(outputs >= 0.0)
        and np.all(outputs <= 1.0)
        and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3)
    )


def check_from_logits(from_logits):
    """Checks an optional explicit `from_logits`."""
    if from_logits is not None and not isinstance(from_logits, bool):
        raise ValueError(
            "Expected `from_logits` to be True, False or None. "
            f"Received: from_logits={from_logits!r}"
        )
    return from_logits


def from_logits(model, explicit=None, sample=None, call=None):
    """Whether `model` outputs logits (True) or probabilities (False), by the
    rules of this module.

    Args:
        model: A Keras model or a callable.
        explicit: The caller's `from_logits`, or None.
        sample: A batch of inputs for rule 4, or None.
        call: How to call `model` on `sample`; defaults to `model`.

    Returns:
        True or False.
    """
    explicit = check_from_logits(explicit)
    inferred = infer_from_logits(model)
    if inferred is not None:
        if explicit is not None and explicit != inferred:
            source = "compiled loss" if compiled_from_logits(model) is not None else "last layer"
            raise ValueError(
                f"The model's {source} says it outputs "
                f"{'logits' if inferred else 'probabilities'}, which contradicts the "
                f"`from_logits` passed. Received: from_logits={explicit}"
            )
        return inferred
    if explicit is not None:
        return explicit
    if sample is not None:
        outputs = (call or model)(tf.convert_to_tensor(sample))
        return not looks_like_probabilities(outputs)
    raise ValueError(
        "Cannot tell whether the model outputs logits or probabilities from its "
        "compiled loss or its last layer; pass `from_logits=True` (logits) or "
        "`from_logits=False` (probabilities). Received: from_logits=None"
    )


def log_probabilities(probabilities):
    """`log(max(probabilities, LOG_FLOOR))`: logits up to a per-example constant."""
    return keras.ops.log(keras.ops.maximum(probabilities, LOG_FLOOR))


def to_logits(outputs, from_logits):
    """The logits of a model's `outputs`."""
    return outputs if from_logits else log_probabilities(outputs)


def check_range(name, value):
    """Returns an input range `(low, high)` as floats, after checking it is a
    pair of finite numbers with low < high."""
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    ok = ok and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )
    if not ok or not value[0] < value[1]:
        raise ValueError(
            f"Expected `{name}` to be a pair of finite numbers (low, high) with "
            f"low < high. Received: {name}={value!r}"
        )
    return float(value[0]), float(value[1])


def range_slack(low, high):
    """How far inputs may stray outside `[low, high]`."""
    return RANGE_TOLERANCE * (high - low)

"""Collecting evaluation examples from a dataset or arrays."""

import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.attacks import _model
from keras_quadreg.attacks import base
from keras_quadreg.models import _checks


def _input_shape(model):
    """Shape of the single input of `model` (with the batch axis), or None if unknown."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        return None
    return tuple(inputs[0].shape)


def _labels(y):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot
        return np.argmax(y, axis=-1)
    return y


def collect(data, num_examples=None, model=None):
    """The first `num_examples` examples of `data` as checked arrays.

    Args:
        data: A `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)`
            (batched or not), or a pair `(x, y)` of arrays. Labels are class
            indices or one-hot rows.
        num_examples: How many examples to take; None takes all.
        model: The model, whose input rank tells batched datasets from
            unbatched ones.

    Returns:
        `(x, y)`: float32 inputs and int64 class indices.
    """
    if num_examples is not None:
        num_examples = _validation.integer("num_examples", num_examples, minimum=1)
    input_shape = _input_shape(model)
    if isinstance(data, tf.data.Dataset):
        x, y = _from_dataset(data, num_examples, input_shape and len(input_shape) - 1)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y):
            raise ValueError(
                "Expected as many labels as inputs. "
                f"Received: {len(x)} inputs and {len(y)} labels"
            )
    else:
        raise ValueError(
            "Expected `data` to be a tf.data.Dataset of (x, y) pairs or a tuple (x, y) of "
            f"arrays. Received: data of type {type(data).__name__}"
        )
    if num_examples is not None:
        if len(x) < num_examples:
            raise ValueError(
                f"Expected at least num_examples={num_examples} examples in `data`. "
                f"Received: {len(x)} examples"
            )
        x, y = x[:num_examples], y[:num_examples]
    if input_shape is not None:
        _checks.input_shape(input_shape, x.shape)
    return base.check_examples(x, _labels(y))


def examples(data, num_examples, model, threat_model):
    """The examples every evaluation runs on: `collect`ed, and checked to lie
    in the threat model's box."""
    x, y = collect(data, num_examples, model)
    base.check_in_box(x, threat_model)
    return x, y


def classifier(model, from_logits, x, y, batch_size):
    """`(model_fn, from_logits, num_classes)` of `model` on the examples
    `x, y`, after checking the labels are classes it outputs."""
    model_fn, from_logits = _model.logits_function(model, from_logits, x[:batch_size])
    num_classes = int(model_fn(tf.constant(x[:1])).shape[-1])
    base.check_labels_in_range(y, num_classes)
    return model_fn, from_logits, num_classes


def _from_dataset(dataset, num_examples, input_rank):
    if num_examples is None and dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "Expected a finite dataset, or `num_examples`. Received: an infinite dataset "
            "and num_examples=None"
        )
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(
            "Expected a dataset of (x, y) or (x, y, sample_weight) elements. "
            f"Received: element_spec={spec}"
        )
    if spec[1].shape.rank == 0:  # a scalar label per element
        batched = False
    else:
        batched = input_rank is None or spec[0].shape.rank == input_rank + 1
    if not batched:
        dataset = dataset.batch(256)
    xs, ys, count = [], [], 0
    for element in dataset:
        xs.append(element[0].numpy())
        ys.append(element[1].numpy())
        count += len(xs[-1])
        if num_examples is not None and count >= num_examples:
            break
    if not xs:
        raise ValueError("Expected a non-empty dataset. Received: no elements")
    return np.concatenate(xs), np.concatenate([_labels(y) for y in ys])

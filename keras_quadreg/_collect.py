"""Labeled examples as every package takes them: collected from a dataset
or a pair of arrays, and checked against the model's input shape.

Evaluation, its callbacks and the interpretability scores all collect
their examples here, so a dataset means the same to each of them.
"""

import numpy as np
import tensorflow as tf

from keras_quadreg import _validation


def check_input_shape(expected, received):
    """Checks a batch's shape `received` against a model input's `expected`
    (both with the batch axis), so a wrong shape is reported as expected and
    received shapes before Keras fails deep in the model. Like Keras, accepts
    a batch without the input's trailing axis of size 1."""
    expected, received = tf.TensorShape(expected), tf.TensorShape(received)
    if expected.rank is None or received.rank is None:
        return
    compared = expected
    if received.rank == expected.rank - 1 and expected[-1] == 1:
        compared = expected[:-1]
    if not received[1:].is_compatible_with(compared[1:]):
        raise ValueError(
            f"Expected inputs of shape {tuple(expected)}, the model's input shape. "
            f"Received: x.shape={tuple(received)}"
        )


def check_examples(x, y):
    """`x` as float32 and `y` as int64 class indices, after checking them."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"Expected `x` to be numeric. Received: x.dtype={x.dtype}")
    x = x.astype(np.float32, copy=False)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            "Expected `x` to be a non-empty batch with shape (batch, ...). "
            f"Received: x.shape={x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(
            "Expected `x` to contain only finite values. "
            f"Received: {int(np.sum(~np.isfinite(x)))} NaN or Inf values"
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"Expected `y` to be class indices of shape ({len(x)},), one per example. "
            f"Received: y.shape={y.shape}"
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(
                f"Expected `y` to be whole-number class indices. Received: y[:5]={y[:5].tolist()}"
            )
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"Expected `y` to be class indices. Received: y.dtype={y.dtype}")
    if np.any(y < 0):
        raise ValueError(f"Expected class indices >= 0. Received: min(y)={int(y.min())}")
    return x, y.astype(np.int64)


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


def collect(data, num_examples=None, model=None, *, at_most=False, name="num_examples"):
    """The first `num_examples` examples of `data` as checked arrays.

    Args:
        data: A `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)`
            (batched or not), or a pair `(x, y)` of arrays. Labels are class
            indices or one-hot rows.
        num_examples: How many examples to take; None takes all.
        model: The model, whose input rank tells batched datasets from
            unbatched ones.
        at_most: Whether fewer than `num_examples` examples will do.
        name: The caller's name of `num_examples`, for error messages.

    Returns:
        `(x, y)`: float32 inputs and int64 class indices.
    """
    if num_examples is not None:
        num_examples = _validation.integer(name, num_examples, minimum=1)
    input_shape = _input_shape(model)
    if isinstance(data, tf.data.Dataset):
        x, y = _from_dataset(data, num_examples, input_shape and len(input_shape) - 1, name)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y):
            raise ValueError(
                f"Expected as many labels as inputs. Received: {len(x)} inputs and {len(y)} labels"
            )
    else:
        raise ValueError(
            "Expected `data` to be a tf.data.Dataset of (x, y) pairs or a tuple (x, y) of "
            f"arrays. Received: data of type {type(data).__name__}"
        )
    if num_examples is not None:
        if len(x) < num_examples and not at_most:
            raise ValueError(
                f"Expected at least {name}={num_examples} examples in `data`. "
                f"Received: {len(x)} examples"
            )
        x, y = x[:num_examples], y[:num_examples]
    if input_shape is not None:
        check_input_shape(input_shape, x.shape)
    return check_examples(x, _labels(y))


def _from_dataset(dataset, num_examples, input_rank, name):
    if num_examples is None and dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"Expected a finite dataset, or `{name}`. Received: an infinite dataset and {name}=None"
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

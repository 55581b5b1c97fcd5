"""Checks that run inside the exported graph, on every request.

TF Serving feeds request tensors straight into the graph: the signature's
static shape is metadata it does not enforce. With TensorFlow 2.21, a float
batch of rank 3 reaching a convolution aborts the whole process (a failed
CHECK in the oneDNN kernel), not just the request. Each signature therefore
validates its input first and fails the request with an
`InvalidArgumentError` carrying one of the messages below.

The checks read the shape at run time and never its rank: Grappler folds
`Rank` into a constant from the signature's static shape (seen with 2.21),
which would silently disable a rank check.
"""

import tensorflow as tf

from keras_quadreg import _outputs

WRONG_SHAPE = "Expected `{name}` of shape {expected}, batch >= 1. Received: shape="
NON_FINITE = "Expected `{name}` to be finite (no NaN or Inf)"
OUTSIDE_RANGE = "Expected `{name}` in the model input range [{low}, {high}]. Received: min, max ="


def _shape_ok(tensor, expected):
    """Whether `tensor`'s run-time shape is `expected`, where None is a
    batch axis of any size >= 1 (models on oneDNN fail on empty batches).

    The shape is padded with -1, a size no tensor has, to `len(expected) + 1`
    entries: then one comparison checks both the rank and the sizes.
    """
    length = len(expected) + 1
    shape = tf.shape(tensor, out_type=tf.int64)
    padded = tf.concat([shape, tf.fill([length], tf.constant(-1, tf.int64))], 0)[:length]
    wanted = [-1 if size is None else size for size in expected] + [-1]
    batch_axes = [size is None for size in expected] + [False]
    matches = tf.where(batch_axes, padded >= 1, tf.equal(padded, wanted))
    return tf.reduce_all(matches), shape


def _after(tensor, assertions):
    with tf.control_dependencies(assertions):
        return tf.identity(tensor)


def assert_shape(tensor, expected, name):
    """`tensor`, made to depend on a graph assertion that its shape is `expected`."""
    ok, shape = _shape_ok(tensor, expected)
    described = "[" + ", ".join("batch" if s is None else str(s) for s in expected) + "]"
    message = WRONG_SHAPE.format(name=name, expected=described)
    return _after(tensor, [tf.debugging.Assert(ok, [message, shape], summarize=8)])


def assert_images(images, image_shape, input_range, name="images"):
    """`images`, made to depend on graph assertions of their shape,
    finiteness and range: each request that fails one fails with its message.

    Values may exceed the range by `_outputs.range_slack`, for inputs
    rounded on their way into it.
    """
    images = assert_shape(images, (None, *image_shape), name)
    images = tf.debugging.check_numerics(images, NON_FINITE.format(name=name))
    low, high = input_range
    slack = _outputs.range_slack(low, high)
    smallest, largest = tf.reduce_min(images), tf.reduce_max(images)
    in_range = tf.logical_and(smallest >= low - slack, largest <= high + slack)
    message = OUTSIDE_RANGE.format(name=name, low=low, high=high)
    return _after(images, [tf.debugging.Assert(in_range, [message, smallest, largest])])

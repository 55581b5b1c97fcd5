"""The classifier an attack sees: a callable from inputs to logits."""

import keras
import tensorflow as tf

from keras_quadreg import _outputs


def _feature_axes(x):
    return list(range(1, x.shape.rank))


def _inference_call(model):
    if isinstance(model, keras.layers.Layer):
        return lambda x: model(x, training=False)
    return model


def logits_function(model, from_logits=None, sample=None):
    """Wraps a classifier as the `model_fn` attacks take: inputs -> logits.

    Keras models are called in inference mode. Whether a model outputs
    logits or probabilities is decided as everywhere in keras_quadreg: by
    its compiled loss, else its last layer (softmax or linear), else
    `from_logits`, else its outputs on `sample`. A model that outputs
    probabilities is attacked through its log-probabilities (which are
    logits up to a per-example constant); a saturated softmax then gives
    vanishing gradients, which `kq.check_gradient_masking` reports.

    The returned function also keeps the logits connected to the input, so
    a model with non-differentiable operations (e.g. `tf.round`) gives zero
    input gradients, which gradient attacks handle, instead of `None`.

    Example:

    ```python
    model_fn, from_logits = kq.attacks.logits_function(model)
    x_adv = kq.attacks.PGD().generate(model_fn, x, y, threat)
    ```

    Args:
        model: A Keras model or a callable mapping a batch to class scores.
        from_logits: Whether `model` outputs logits, for a model whose
            compiled loss and last layer do not say; it must agree with them
            when they do. None infers it.
        sample: A batch of inputs for a model nothing else says anything
            about: rows of outputs that are probability vectors mean
            probabilities.

    Returns:
        `(model_fn, from_logits)`.
    """
    if not callable(model):
        raise ValueError(
            f"Expected `model` to be a Keras model or a callable. Received: model={model!r}"
        )
    call = _inference_call(model)
    from_logits = _outputs.from_logits(model, from_logits, sample, call)

    def model_fn(x):
        x = tf.convert_to_tensor(x)
        scores = call(x)
        if isinstance(scores, (list, tuple, dict)):
            raise ValueError(
                "Expected the model to have a single output of class scores. "
                f"Received: an output of type {type(scores).__name__}"
            )
        logits = _outputs.to_logits(scores, from_logits)
        # Adds exactly zero (`x` is finite), so that d logits / d x is zero
        # rather than None where the model is not differentiable.
        tie = 0.0 * tf.reduce_sum(x, axis=_feature_axes(x), keepdims=False)
        return logits + tf.cast(tie, logits.dtype)[:, None]

    # Read by AutoAttack's `probability_outputs` flag.
    model_fn.takes_log_of_probabilities = not from_logits
    return model_fn, from_logits

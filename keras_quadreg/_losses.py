"""Per-example views of the loss a model was compiled with."""

import keras
import tensorflow as tf

from keras_quadreg import _outputs


class PerExampleLoss:
    """The compiled loss, unreduced: `(y_true, y_pred) -> (batch,)`.

    Attributes:
        reduction: The compiled loss's reduction, applied to regularizer terms
            so they are averaged (and scaled under `tf.distribute`) exactly
            like the loss they are added to.
        from_logits: Whether the model outputs logits, when the loss says
            (cross-entropies do); None otherwise.
        sparse: Whether the loss takes class indices rather than targets of
            the output's shape (a sparse categorical cross-entropy).
    """

    def __init__(self, loss, loss_weight=None):
        if isinstance(loss, (list, tuple)) and len(loss) == 1:
            loss = loss[0]
        if isinstance(loss, dict) and len(loss) == 1:
            loss = next(iter(loss.values()))
        if loss is None or isinstance(loss, (list, tuple, dict)):
            raise ValueError(
                "QuadRegModel needs one loss for its single output, passed to "
                f"`compile(loss=...)`. Received: loss={loss!r}"
            )
        loss = keras.losses.get(loss)
        self.sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy) or (
            loss is keras.losses.sparse_categorical_crossentropy
        )
        if isinstance(loss, keras.losses.Loss):
            self._loss = loss
            self._call = loss.call
            self._dtype = loss.dtype
            self.reduction = loss.reduction
        elif callable(loss):
            self._call = loss
            self._dtype = keras.backend.floatx()
            self.reduction = "sum_over_batch_size"
        else:
            raise ValueError(
                "Expected `loss` to be a Keras loss, its name, or a callable. "
                f"Received: loss={loss!r}"
            )
        self.from_logits = _outputs.loss_from_logits(loss)
        self.weight = 1.0 if loss_weight is None else float(loss_weight)
        self._reducers = {}

    def __call__(self, y_true, y_pred):
        # Computes in the loss's dtype (float32 for float16 outputs, as Keras
        # does) but never below the model's precision: the regularizers
        # differentiate this loss twice, and finite differences need the digits.
        dtype = tf.as_dtype(self._dtype)
        if y_pred.dtype.is_floating and y_pred.dtype.size > dtype.size:
            dtype = y_pred.dtype
        y_true = tf.cast(y_true, dtype)
        y_pred = tf.cast(y_pred, dtype)
        values = self._call(y_true, y_pred)
        if values.shape.rank and values.shape.rank > 1:
            values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
        if values.shape.rank != 1:
            raise ValueError(
                "Expected the compiled loss to give one value per example when "
                f"unreduced. Received: shape={tuple(values.shape)}"
            )
        return values * self.weight if self.weight != 1.0 else values

    def reduce(self, values, sample_weight=None):
        """Reduces per-example values like the compiled loss reduces its own."""
        dtype = values.dtype.name  # in the values' own precision
        if dtype not in self._reducers:
            self._reducers[dtype] = _Reducer(self.reduction, dtype)
        return self._reducers[dtype](values, values, sample_weight)

    def unscale(self, value):
        """Undoes the `1 / num_replicas` scaling of a reduced value, for logging."""
        if self.reduction in ("sum", "none", None):
            return value
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return value * replicas if replicas > 1 else value


def compiled_example_loss(model, caller):
    """The `PerExampleLoss` of `model`'s compiled loss; raises, naming
    `caller`, when the model is not compiled with one."""
    if getattr(model, "loss", None) is None:
        raise ValueError(
            f"{caller} differentiates the model's compiled loss: call "
            "`compile(loss=...)` first. Received: loss=None"
        )
    return PerExampleLoss(model.loss)


class _Reducer(keras.losses.Loss):
    """Applies Keras's own reduction (sample weights, distribution scaling) to
    values that are already per-example losses."""

    def __init__(self, reduction, dtype):
        super().__init__(name="regularizer", reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return y_pred

"""Non-finite outputs beyond the clean pass: on the attacked examples of
`kq.evaluate_robustness` and on the held-out examples `RobustAccuracy`
selects checkpoints by, where `argmax` of NaN (class 0) would count as a
plausible prediction."""

import re

import keras
import numpy as np
import pytest

import keras_quadreg as kq

X = np.full((8, 4), 0.5, np.float32)
Y = np.zeros(8, np.int64)


class _NaNAbove(keras.layers.Layer):
    """The scores, or NaN for an input with a coordinate above 0.7."""

    def call(self, inputs, scores):
        above = keras.ops.max(inputs, axis=-1, keepdims=True) > 0.7
        return keras.ops.where(above, float("nan"), scores)


def _nan_in_the_ball():
    """Finite at X; class 0's weights are -1 and the others' +1, so the loss
    gradient raises every coordinate and FGSM at epsilon 0.3 takes X to 0.8."""
    inputs = keras.Input((4,))
    dense = keras.layers.Dense(3)
    scores = dense(inputs)
    dense.set_weights([np.array([[-1.0, 1.0, 1.0]] * 4, np.float32), np.zeros(3, np.float32)])
    return keras.Model(inputs, _NaNAbove()(inputs, scores))


def test_evaluate_robustness_refuses_nan_outputs_on_adversarial_examples():
    model = _nan_in_the_ball()
    assert np.isfinite(model.predict(X, verbose=0)).all()
    message = (
        "Expected the model to output finite values; its outputs on 8 of 8 adversarial examples "
        "of fgsm hold NaN or Inf (at indices [0, 1, 2, 3, 4, 5, 6, 7], in output units "
        "[0, 1, 2]). Received: outputs[0]=[nan, nan, nan]"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.evaluate_robustness(
            model, (X, Y), 0.3, "inf", attacks=["fgsm"], from_logits=True, verbose=0
        )


class _Poison(keras.callbacks.Callback):
    """At the end of epoch 2, sets the kernel to `value`."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, self.value, np.float32))


def _fit(value, run_eagerly, jit_compile):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(inputs))
    model.compile(
        "sgd",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=run_eagerly,
        jit_compile=jit_compile,
    )
    x = np.linspace(0.6, 1.0, 32, dtype=np.float32).reshape(8, 4)
    selector = kq.callbacks.RobustAccuracy(
        (x, np.arange(8) % 3), 0.1, attack="fgsm", from_logits=True, prefix="holdout_"
    )
    history = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            history[epoch] = logs[selector.key]

    with pytest.raises(ValueError) as error:
        model.fit(X, Y, epochs=3, callbacks=[_Poison(value), selector, Record()], verbose=0)
    assert list(history) == [0]  # epoch 1 was logged, epoch 2 raised
    return str(error.value)


@pytest.mark.parametrize(
    "run_eagerly, jit_compile",
    [(True, False), (False, False), (False, True)],
    ids=["eager", "graph", "xla"],
)
def test_robust_accuracy_refuses_outputs_that_overflow(run_eagerly, jit_compile):
    # A kernel of 1e38 is finite; the scores of inputs summing to more than
    # 3.4 (float32's largest is 3.4e38) are not: rows 5 to 7 sum to 3.51 and more.
    message = _fit(1e38, run_eagerly, jit_compile)
    assert message == (
        "At the end of epoch 2: Expected the model to output finite values; its outputs on 3 of 8 "
        "examples of holdout_fgsm_accuracy hold NaN or Inf (at indices [5, 6, 7], in output "
        "units [0, 1, 2]). Received: outputs[5]=[inf, inf, inf]"
    )


def test_robust_accuracy_refuses_weights_that_diverged():
    assert _fit(float("nan"), False, False) == (
        "At the end of epoch 2: Expected `model` to have finite weights; its variable "
        "'scores/kernel' holds NaN or Inf values (did training diverge?). "
        "Received: model='functional'"
    )

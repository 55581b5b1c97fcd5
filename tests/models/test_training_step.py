import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg._losses import PerExampleLoss


class CountTrainingCalls(keras.layers.Layer):
    """Counts training-mode calls in a non-trainable variable: model state."""

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    def call(self, x, training=False):
        if training:
            self.calls.assign_add(1.0)
        return x


def _dropout_model():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(16, activation="tanh")(inputs)
    h = keras.layers.Dropout(0.5)(h)
    h = keras.layers.BatchNormalization()(h)
    return kq.QuadRegModel(inputs, keras.layers.Dense(3)(h))


def _step(model, x, y):
    loss = PerExampleLoss(keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return kq.TrainingStep(model, x, y, None, loss, tf.constant(0, tf.int64))


def test_replays_repeat_the_training_pass_without_touching_state():
    model = _dropout_model()
    x, y = tf.random.normal((32, 6), seed=1), tf.zeros(32, tf.int64)
    model(x)
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    step = _step(model, x, y)
    replay_first = step.replay(x)
    trained = step.forward(x)
    after = [v.numpy().copy() for v in model.non_trainable_variables]
    # Same dropout masks and batch statistics before and after the training pass.
    np.testing.assert_array_equal(step.replay(x), trained)
    np.testing.assert_array_equal(replay_first, trained)
    changed = [not np.array_equal(b, a) for b, a in zip(before, after)]
    assert all(changed)  # moving mean, moving variance and the dropout RNG state advanced
    step.replay(x + 1.0)
    for a, v in zip(after, model.non_trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())
    assert not np.array_equal(trained, model(x, training=True))  # masks do change per step


def test_forward_runs_once_per_step():
    model = _dropout_model()
    x = tf.zeros((2, 6))
    step = _step(model, x, tf.zeros(2, tf.int64))
    step.forward(x)
    with pytest.raises(RuntimeError, match="single training pass and runs once per step"):
        step.forward(x)


@pytest.mark.parametrize("regularizer", [None, *kq.regularizers.names()])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_model_state_advances_once_per_step_for_every_objective(regularizer, jit_compile):
    threat = regularizer and issubclass(
        kq.regularizers.registry._REGULARIZERS.class_of(regularizer),
        kq.regularizers.ThreatRegularizer,
    )
    kwargs = {"epsilon": 0.1} if threat else {}
    inputs = keras.Input((5,))
    h = CountTrainingCalls()(keras.layers.Dense(8, activation="tanh")(inputs))
    model = kq.QuadRegModel(
        inputs,
        keras.layers.Dense(3)(h),
        regularizer=regularizer and kq.regularizers.get(regularizer, **kwargs),
    )
    model.compile(
        "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile
    )
    x, y = np.random.rand(16, 5).astype("float32"), np.random.randint(0, 3, 16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    counter = next(v for v in model.non_trainable_variables if v.name == "calls")
    assert counter.numpy() == 2.0  # two batches, one training pass each


class _TwoPasses(kq.regularizers.Regularizer):
    def compute(self, step):
        y_pred = step.forward(step.x)
        step.forward(step.x)
        return kq.regularizers.Terms(y_pred, y_pred)


class _NoPass(kq.regularizers.Regularizer):
    def compute(self, step):
        y_pred = step.replay(step.x)
        return kq.regularizers.Terms(y_pred, y_pred)


def test_a_regularizer_must_run_the_training_pass_exactly_once():
    x, y = np.random.rand(4, 6).astype("float32"), np.zeros(4)
    for regularizer, message in (
        (_TwoPasses(), "runs once per step"),
        (
            _NoPass(),
            r"_NoPass.compute must run the step's training pass, `step.forward`, exactly once.",
        ),
    ):
        model = kq.QuadRegModel.wrap(
            keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)]), regularizer
        )
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        with pytest.raises(RuntimeError, match=message):
            model.fit(x, y, verbose=0)

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.callbacks.curvature import dominant_eigenvalue
from tests.conftest import small_cnn

KEYS = ["val_pgd_accuracy", "val_input_gradient_norm", "val_input_hessian_eigenvalue", "epsilon"]


class Spy(keras.callbacks.Callback):
    """Records what a callback listed after ours (e.g. ModelCheckpoint) reads."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(sorted(logs))


def quadreg_model(epsilon=0.3):
    inputs, outputs = small_cnn()
    regularizer = kq.regularizers.QuadraticAdversarial(epsilon=epsilon, clip_min=0.0, clip_max=1.0)
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    return model


def callbacks(x, y):
    return [
        kq.callbacks.RegularizerSchedule(ramp_epochs=2, epsilon=0.3),
        kq.callbacks.RobustAccuracy((x[:32], y[:32]), epsilon=0.3, attack=kq.attacks.PGD(steps=3)),
        kq.callbacks.CurvatureMonitor((x, y), num_examples=16, iterations=3),
    ]


def test_callbacks_write_their_keys_into_history_and_for_later_callbacks(mnist_subset):
    (x, y), _ = mnist_subset
    x, y = x[:256], y[:256]
    model, spy = quadreg_model(), Spy()
    history = model.fit(x, y, batch_size=64, epochs=2, callbacks=[*callbacks(x, y), spy], verbose=0)
    for key in KEYS:
        assert len(history.history[key]) == 2 and all(np.isfinite(history.history[key]))
        assert all(key in seen for seen in spy.seen)
    assert history.history["epsilon"] == [0.15, 0.3]
    assert all(0 <= a <= 1 for a in history.history["val_pgd_accuracy"])
    assert all(g > 0 for g in history.history["val_input_gradient_norm"])


def test_callbacks_write_their_keys_into_tensorboard_event_files(mnist_subset, tmp_path):
    # Keras's TensorBoard callback needs the `tensorboard` package, which
    # TensorFlow 2.21 no longer installs; the event files are read with TF.
    pytest.importorskip("tensorboard")
    (x, y), _ = mnist_subset
    x, y = x[:128], y[:128]
    board = keras.callbacks.TensorBoard(tmp_path)
    quadreg_model().fit(
        x, y, batch_size=64, epochs=1, callbacks=[*callbacks(x, y), board], verbose=0
    )
    tags = {}
    for run in ("train", "validation"):
        tags[run] = set()
        for path in (tmp_path / run).glob("events.out.tfevents.*"):
            for event in tf.data.TFRecordDataset(str(path)):
                summary = tf.compat.v1.Event.FromString(event.numpy()).summary
                tags[run] |= {value.tag for value in summary.value}
    # TensorBoard files `val_*` keys under the validation run, without the prefix.
    assert "epoch_epsilon" in tags["train"]
    assert {
        "epoch_pgd_accuracy",
        "epoch_input_gradient_norm",
        "epoch_input_hessian_eigenvalue",
    } <= tags["validation"]


def test_robust_accuracy_runs_every_few_epochs_and_equals_evaluate_robustness(
    mnist_standard_model, mnist_subset
):
    model = keras.models.load_model(mnist_standard_model)
    _, (x, y) = mnist_subset
    callback = kq.callbacks.RobustAccuracy(
        (x, y), epsilon=0.1, attack="fgsm", every=2, num_examples=64, prefix="test_"
    )
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs == {}
    callback.on_epoch_end(1, logs)
    report = kq.evaluate_robustness(
        model, (x, y), 0.1, attacks=["fgsm"], num_examples=64, verbose=0
    )
    assert logs == {"test_fgsm_accuracy": report.attacks["fgsm"].accuracy}


def test_dominant_eigenvalue_is_the_largest_magnitude_eigenvalue():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    eigenvalues = np.array([-5.0, 2.0, 1.0, 0.5, -0.3, 0.1])
    hessian = (basis * eigenvalues) @ basis.T  # the loss 0.5 x.A.x has Hessian A
    a = tf.constant(hessian, tf.float32)
    loss_fn = lambda x: 0.5 * tf.reduce_sum(x * tf.matmul(x, a), axis=-1)
    x = tf.constant(rng.normal(size=(3, 6)), tf.float32)
    _, gradient, eigenvalue = dominant_eigenvalue(loss_fn, x, iterations=60, seed=0)
    np.testing.assert_allclose(eigenvalue.numpy(), [-5.0] * 3, rtol=1e-4)
    np.testing.assert_allclose(gradient.numpy(), x.numpy() @ hessian, rtol=1e-4, atol=1e-5)


def test_curvature_monitor_measures_the_compiled_loss(mnist_standard_model, mnist_subset):
    model = keras.models.load_model(mnist_standard_model)
    _, (x, y) = mnist_subset
    monitor = kq.callbacks.CurvatureMonitor((x, y), num_examples=8, iterations=20)
    monitor.set_model(model)
    gradient_norm, eigenvalue = monitor.measure()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    _, gradient = kq.ops.input_gradient(lambda x: loss(y[:8], model(x)), tf.constant(x[:8]))
    expected = np.mean(np.linalg.norm(gradient.numpy().reshape(8, -1), axis=1))
    assert gradient_norm == pytest.approx(expected, rel=1e-4)
    # Rayleigh quotients never exceed the largest magnitude; the power
    # iteration's estimate beats a random direction's.
    v = tf.math.l2_normalize(tf.random.stateless_normal(x[:8].shape, [1, 2]), axis=[1, 2, 3])
    hv = kq.ops.hvp(lambda x: loss(y[:8], model(x)), tf.constant(x[:8]), v)
    assert abs(eigenvalue) >= abs(np.mean(np.sum(v.numpy() * hv.numpy(), axis=(1, 2, 3))))


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: kq.callbacks.RobustAccuracy((np.zeros((2, 4)), np.zeros(2)), 0.3, every=0),
            "Expected `every` to be an integer >= 1. Received: every=0",
        ),
        (
            lambda: kq.callbacks.RobustAccuracy((np.zeros((2, 4)), np.zeros(2)), 0.3, attack="x"),
            "Unknown attack. Expected one of",
        ),
        (
            lambda: kq.callbacks.CurvatureMonitor((np.zeros((2, 4)), np.zeros(2)), iterations=0),
            "Expected `iterations` to be an integer >= 1. Received: iterations=0",
        ),
    ],
)
def test_callback_arguments_are_validated(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


@pytest.mark.parametrize(
    "callback, name",
    [
        (lambda data: kq.callbacks.CurvatureMonitor(data, num_examples=4), "CurvatureMonitor"),
        (lambda data: kq.callbacks.AdaptiveIterations(data, num_examples=4), "AdaptiveIterations"),
    ],
)
def test_loss_probing_callbacks_need_a_compiled_loss(callback, name):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    monitor = callback((np.zeros((4, 4), np.float32), np.zeros(4, np.int64)))
    monitor.set_model(model)
    with pytest.raises(ValueError) as error:
        monitor.measure()
    assert str(error.value) == (
        f"{name} differentiates the model's compiled loss: call `compile(loss=...)` first. "
        "Received: loss=None"
    )

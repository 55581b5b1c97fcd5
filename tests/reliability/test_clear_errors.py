"""Mistakes that used to fail deep inside Keras or TensorFlow now say what was
expected and end with `Received: ...`."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg import cli
from keras_quadreg.ops import hessian
from tests.reliability.test_cli_flags import TRAIN

SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
rng = np.random.default_rng(0)
X = rng.random((8, 8, 8, 1)).astype("float32")
Y = np.arange(8) % 3


def _classifier(loss=SPARSE_LOGITS):
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(inputs)))
    model = kq.QuadRegModel(inputs, outputs, regularizer=kq.regularizers.GradientNorm(weight=0.1))
    model.compile("sgd", loss)
    return model


SHAPE_CALLS = {
    "fit": lambda m, x: m.fit(x, Y, verbose=0),
    "evaluate": lambda m, x: m.evaluate(x, Y, verbose=0),
    "evaluate_robustness": lambda m, x: kq.evaluate_robustness(
        m, (x, Y), 0.1, attacks=["fgsm"], verbose=0
    ),
}
BAD_SHAPES = {
    "9x9 images": ((8, 9, 9, 1), "(None, 9, 9, 1)"),
    "3 channels": ((8, 8, 8, 3), "(None, 8, 8, 3)"),
    "flattened": ((8, 64), "(None, 64)"),
}


@pytest.mark.parametrize("shape", BAD_SHAPES)
@pytest.mark.parametrize("call", SHAPE_CALLS)
def test_a_wrong_input_shape_says_expected_and_received(call, shape):
    x_shape, received = BAD_SHAPES[shape]
    if call == "evaluate_robustness":  # arrays, not a traced batch
        received = str(x_shape)
    message = (
        "Expected inputs of shape (None, 8, 8, 1), the model's input shape. "
        f"Received: x.shape={received}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SHAPE_CALLS[call](_classifier(), np.zeros(x_shape, "float32"))


def test_inputs_without_the_trailing_unit_axis_are_accepted_as_by_keras():
    history = _classifier().fit(X[..., 0], Y, verbose=0).history
    assert np.isfinite(history["loss"][0])


@pytest.mark.parametrize(
    "loss", [SPARSE_LOGITS, "sparse_categorical_crossentropy"], ids=["loss object", "loss name"]
)
@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_one_hot_labels_with_a_sparse_loss(call, loss):
    message = (
        "Expected class indices of shape (batch,) or (batch, 1) for the sparse cross-entropy the "
        "model was compiled with; one-hot targets need keras.losses.CategoricalCrossentropy. "
        "Received: y.shape=(None, 3)"
    )
    model = _classifier(loss)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        getattr(model, call)(X, np.eye(3)[Y], verbose=0)


def test_one_hot_labels_with_a_categorical_loss_train():
    model = _classifier(keras.losses.CategoricalCrossentropy(from_logits=True))
    assert np.isfinite(model.fit(X, np.eye(3)[Y], verbose=0).history["loss"][0])


def test_wrapping_a_two_input_model_names_the_two_inputs():
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    message = (
        "QuadRegModel supports models with a single input tensor: the regularizers perturb one "
        "input and penalize one output. Received: 2 inputs"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.QuadRegModel.wrap(model)


LOSS = lambda x: tf.reduce_sum(tf.nn.relu(x) ** 2, axis=1)


@pytest.mark.parametrize("dtype", [tf.float64, tf.float16], ids=["float64", "float16"])
def test_hvp_names_v_of_another_dtype(dtype):
    message = f"Expected `v` to have the dtype of `x`, float32. Received: v.dtype={dtype.name}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.ops.hvp(LOSS, tf.ones((2, 3)), tf.ones((2, 3), dtype))


def test_hvp_accepts_a_float64_array_for_float32_inputs():
    np.testing.assert_allclose(
        kq.ops.hvp(LOSS, tf.ones((2, 3)), np.ones((2, 3))), 2 * np.ones((2, 3))
    )


@pytest.mark.parametrize("method", kq.ops.HVP_METHODS)
def test_hvp_with_another_batch_of_v_in_a_tf_function(method):
    spec = tf.TensorSpec((None, 3))
    hvp = tf.function(
        lambda x, v: kq.ops.hvp(LOSS, x, v, method=method), input_signature=[spec, spec]
    )
    pattern = re.escape(hessian.HVP_SHAPE_MISMATCH) + r"\] \[4 3\] \[x.shape =\] \[2 3\]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
        hvp(tf.ones((2, 3)), tf.ones((4, 3)))


def test_hvp_with_another_static_shape_of_v():
    message = "Expected `v` to have the shape of `x`, (2, 3). Received: v.shape=(4, 3)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.ops.hvp(LOSS, tf.ones((2, 3)), tf.ones((4, 3)))


@pytest.mark.parametrize("name", ["1", "7"])
def test_export_refuses_a_file_named_like_a_version(name, tmp_path):
    model = _classifier()
    (tmp_path / name).write_text("")
    message = (
        f"Expected `base_path` to hold version folders only; {tmp_path / name} is a file with a "
        "version's name, which TF Serving cannot load and a new version cannot replace. "
        f"Received: base_path={str(tmp_path)!r}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.export_for_serving(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_run_rejected_for_limit_0_lets_the_corrected_command_train(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), *TRAIN]
    limit = argv.index("--limit") + 1
    with pytest.raises(SystemExit):
        cli.main([*argv[:limit], "0", *argv[limit + 1 :]])
    assert "Received: --limit=0" in capsys.readouterr().err
    cli.main(argv)
    assert (out / "model.keras").exists() and (out / "config.json").exists()

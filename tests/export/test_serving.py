"""`kq.export_for_serving`: signatures, fresh-process equivalence, warmup,
malformed requests, versions and atomic writes. (tests/serving/__init__.py
says what this file and tests/serving/ each cover.)"""

import os
import pathlib
import pickle
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.export import _checks, _versions, _warmup
from tests.conftest import REPO, small_cnn

HERE = pathlib.Path(__file__).resolve().parent
KINDS = ("functional", "subclassed", "wrapped", "plain")
SIGNATURES = ("serving_default", "predict_bytes", "explain", "explain_bytes")
BATCH = 4


class TinySubclassed(kq.QuadRegModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(10)

    def call(self, x):
        return self.head(self.pool(self.conv(x)))


def regularizer(low=0.0, high=1.0):
    return kq.regularizers.QuadraticAdversarial(
        epsilon=0.1, norm="inf", iterations=1, clip_min=low, clip_max=high
    )


def trained(kind, x, y):
    """One training step, so a QuadRegModel's regularizer and the optimizer
    have run (and made state) before export."""
    if kind == "functional":
        model = kq.QuadRegModel(*small_cnn(), regularizer=regularizer())
    elif kind == "subclassed":
        model = TinySubclassed(regularizer=regularizer())
    elif kind == "wrapped":
        model = kq.QuadRegModel.wrap(keras.Model(*small_cnn()), regularizer())
    else:  # a plain Keras model that outputs probabilities
        inputs, logits = small_cnn()
        model = keras.Model(inputs, keras.layers.Softmax()(logits))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=kind != "plain")
    model.compile(keras.optimizers.Adam(1e-3), loss)
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)
    return model


def png(images):
    """PNG strings of images in [0, 1] whose pixels are multiples of 1/255."""
    return [tf.io.encode_png(np.round(image * 255).astype(np.uint8)).numpy() for image in images]


def reference(model, kind, images):
    """The Keras model's logits, probabilities and saliency, computed here
    independently of the export code."""
    images = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = model(images, training=False)
        logits = tf.math.log(outputs) if kind == "plain" else outputs
        predicted = tf.argmax(logits, axis=-1)
        chosen = tf.gather(tf.nn.log_softmax(logits), predicted, batch_dims=1)
    return {
        "class_ids": predicted.numpy(),
        "logits": logits.numpy(),
        "probabilities": (outputs if kind == "plain" else tf.nn.softmax(outputs)).numpy(),
        "saliency": tape.gradient(chosen, images).numpy(),
    }


@pytest.fixture(scope="module")
def images(mnist_subset):
    _, (x_test, _) = mnist_subset
    return x_test[:BATCH]


@pytest.fixture(scope="module")
def exports(mnist_subset, tmp_path_factory):
    """`{kind: (model, version folder)}`; the functional model is warmed up
    on three real digits, the others on the default gray image."""
    (x, y), (x_test, _) = mnist_subset
    root = tmp_path_factory.mktemp("exports")
    result = {}
    for kind in KINDS:
        keras.utils.set_random_seed(0)
        model = trained(kind, x, y)
        warmup = x_test[:3] if kind == "functional" else True
        path = kq.export_for_serving(model, root / f"quadreg_{kind}", warmup=warmup)
        result[kind] = (model, path)
    return result


# Malformed requests: (signature, value, message the SavedModel fails with).
def _wrong_shape(name, expected, received):
    message = _checks.WRONG_SHAPE.format(name=name, expected=expected)
    return f"assertion failed: [{message}] {received}"


IMAGES_SHAPE = "[batch, 28, 28, 1]"
MALFORMED = {
    "rank 3 images": (
        "serving_default",
        np.zeros((2, 28, 28), np.float32),
        _wrong_shape("images", IMAGES_SHAPE, "[2 28 28]"),
    ),
    "rank 5 images": (
        "serving_default",
        np.zeros((2, 28, 28, 1, 1), np.float32),
        _wrong_shape("images", IMAGES_SHAPE, "[2 28 28 1 1]"),
    ),
    "wrong image size": (
        "serving_default",
        np.zeros((2, 32, 32, 1), np.float32),
        _wrong_shape("images", IMAGES_SHAPE, "[2 32 32 1]"),
    ),
    "empty batch": (
        "serving_default",
        np.zeros((0, 28, 28, 1), np.float32),
        _wrong_shape("images", IMAGES_SHAPE, "[0 28 28 1]"),
    ),
    "explain on rank 3 images": (
        "explain",
        np.zeros((2, 28, 28), np.float32),
        _wrong_shape("images", IMAGES_SHAPE, "[2 28 28]"),
    ),
    "NaN pixel": (
        "serving_default",
        np.full((1, 28, 28, 1), np.nan, np.float32),
        _checks.NON_FINITE.format(name="images") + " : Tensor had NaN values",
    ),
    "pixels in 0..255": (
        "serving_default",
        np.full((1, 28, 28, 1), 255.0, np.float32),
        "assertion failed: ["
        + _checks.OUTSIDE_RANGE.format(name="images", low=0.0, high=1.0)
        + "] [255] [255]",
    ),
    "int32 images": (
        "serving_default",
        np.zeros((1, 28, 28, 1), np.int32),
        "Expects arg[0] to be float but int32 is provided",
    ),
    "string images": (
        "serving_default",
        np.array([b"0"], dtype=object),
        "Expects arg[0] to be float but string is provided",
    ),
    "float image_bytes": (
        "predict_bytes",
        np.zeros((1,), np.float32),
        "Expects arg[0] to be string but float is provided",
    ),
    "scalar image_bytes": (
        "predict_bytes",
        np.array(b"png", dtype=object),
        _wrong_shape("image_bytes", "[batch]", "[]"),
    ),
    "undecodable bytes": (
        "predict_bytes",
        np.array([b"not an image"], dtype=object),
        "Unknown image file format.",
    ),
    "undecodable bytes to explain": (
        "explain_bytes",
        np.array([b"not an image"], dtype=object),
        "Unknown image file format.",
    ),
    "empty bytes": ("predict_bytes", np.array([b""], dtype=object), "Input is empty."),
    "truncated PNG": (
        "predict_bytes",
        np.array([png(np.zeros((1, 28, 28, 1)))[0][:40]], dtype=object),
        "Invalid PNG.",
    ),
}


@pytest.fixture(scope="module")
def fresh(exports, images, tmp_path_factory):
    """Every export run in one fresh Python process (see fresh_process.py)."""
    folder = tmp_path_factory.mktemp("fresh")
    inputs = {"images": images, "image_bytes": np.array(png(images), dtype=object)}
    request = {}
    for _, path in exports.values():
        request[str(path)] = {
            "signatures": {
                name: {key: inputs[key]}
                for name, key in zip(SIGNATURES, ("images", "image_bytes") * 2)
            },
        }
    functional = str(exports["functional"][1])
    request[functional]["malformed"] = {
        case: (signature, value) for case, (signature, value, _) in MALFORMED.items()
    }
    with open(folder / "request.pkl", "wb") as f:
        pickle.dump(request, f)
    subprocess.run(
        [
            sys.executable,
            str(HERE / "fresh_process.py"),
            str(folder / "request.pkl"),
            str(folder / "response.pkl"),
        ],
        check=True,
    )
    with open(folder / "response.pkl", "rb") as f:
        response = pickle.load(f)
    return {kind: response[str(path)] for kind, (_, path) in exports.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_fresh_process_matches_the_keras_model_on_every_signature(kind, exports, fresh, images):
    model, _ = exports[kind]
    expected = reference(model, kind, images)
    for signature in SIGNATURES:
        outputs = fresh[kind]["signatures"][signature]
        keys = {"class_ids", "probabilities", "logits"}
        assert set(outputs) == (keys | {"saliency"} if "explain" in signature else keys)
        for key, value in outputs.items():
            if key == "class_ids":
                assert value.dtype == np.int64
                np.testing.assert_array_equal(value, expected[key])
            else:
                np.testing.assert_allclose(value, expected[key], rtol=1e-5, atol=1e-5)


def test_bytes_signatures_on_png_equal_float_signatures_on_its_pixels(fresh):
    outputs = fresh["functional"]["signatures"]
    pairs = (("serving_default", "predict_bytes"), ("explain", "explain_bytes"))
    for float_signature, bytes_signature in pairs:
        for key, value in outputs[bytes_signature].items():
            np.testing.assert_allclose(value, outputs[float_signature][key], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("encoding", ["jpeg", "png of another size"])
def test_bytes_signature_decodes_jpeg_and_resizes(encoding, exports, images):
    loaded = tf.saved_model.load(str(exports["functional"][1]))
    pixels = np.round(images * 255).astype(np.uint8)
    if encoding == "jpeg":
        encoded = [tf.io.encode_jpeg(p).numpy() for p in pixels]
        decoded = np.stack([tf.io.decode_jpeg(e).numpy() for e in encoded]) / np.float32(255)
    else:
        large = tf.image.resize(pixels, [56, 56], method="nearest").numpy().astype(np.uint8)
        encoded = [tf.io.encode_png(p).numpy() for p in large]
        decoded = tf.image.resize(large / np.float32(255), [28, 28], antialias=True)
    from_bytes = loaded.signatures["predict_bytes"](image_bytes=encoded)
    from_floats = loaded.signatures["serving_default"](images=decoded)
    np.testing.assert_array_equal(from_bytes["class_ids"], from_floats["class_ids"])
    np.testing.assert_allclose(from_bytes["logits"], from_floats["logits"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_request_fails_with_an_error_not_a_crash(case, fresh):
    message = fresh["functional"]["malformed"][case]
    assert message is not None, f"{case} ran without an error"
    assert MALFORMED[case][2] in message


def test_server_session_survives_malformed_requests(fresh):
    assert fresh["functional"]["malformed"]["well_formed_after_errors"] == (1,)


def test_warmup_records_are_prediction_logs_that_run(fresh, exports, mnist_subset):
    _, (x_test, _) = mnist_subset
    replies = fresh["functional"]["warmup"]
    assert [r["signature"] for r in replies] == list(SIGNATURES)
    assert {r["model_name"] for r in replies} == {"quadreg_functional"}
    expected = reference(exports["functional"][0], "functional", x_test[:3])["class_ids"]
    for reply in replies:
        ((name, value),) = reply["inputs"].items()
        assert name == ("image_bytes" if "bytes" in reply["signature"] else "images")
        assert value.shape[0] == 3
        np.testing.assert_array_equal(reply["outputs"]["class_ids"], expected)
    default = fresh["plain"]["warmup"]
    assert [r["signature"] for r in default] == list(SIGNATURES)
    assert all(r["outputs"]["class_ids"].shape == (1,) for r in default)


EXPECTED_SIGNATURES = {
    name: {
        "inputs": {"images": ("DT_FLOAT", "(-1, 28, 28, 1)")}
        if "bytes" not in name
        else {"image_bytes": ("DT_STRING", "(-1)")},
        "outputs": {
            "class_ids": ("DT_INT64", "(-1)"),
            "logits": ("DT_FLOAT", "(-1, 10)"),
            "probabilities": ("DT_FLOAT", "(-1, 10)"),
            **({"saliency": ("DT_FLOAT", "(-1, 28, 28, 1)")} if "explain" in name else {}),
        },
    }
    for name in SIGNATURES
}


def parse_saved_model_cli(text):
    """`{signature: {"inputs"|"outputs": {name: (dtype, shape)}}}`."""
    found = {}
    for block in re.split(r"\n(?=signature_def\[)", text):
        match = re.match(r"signature_def\['(\w+)'\]", block)
        if not match or match.group(1).startswith("__"):
            continue
        signature = found.setdefault(match.group(1), {"inputs": {}, "outputs": {}})
        for kind, name, dtype, shape in re.findall(
            r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: ([^\n]+)", block
        ):
            signature[kind][name] = (dtype, shape.strip())
    return found


def test_saved_model_cli_lists_the_documented_signatures(exports):
    _, path = exports["functional"]
    shown = subprocess.run(
        ["saved_model_cli", "show", "--all", "--dir", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert parse_saved_model_cli(shown) == EXPECTED_SIGNATURES


def _op_types(concrete_function):
    graph = concrete_function.graph.as_graph_def()
    return {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def
    }


def test_export_holds_the_inference_graph_only(exports):
    model, path = exports["functional"]
    reader = tf.train.load_checkpoint(str(path / "variables" / "variables"))
    saved = [
        reader.get_tensor(key)
        for key in reader.get_variable_to_shape_map()
        if key.endswith("VARIABLE_VALUE")
    ]
    # The weights, and neither the optimizer's slots nor any metric's state.
    assert sorted(v.shape for v in saved) == sorted(tuple(w.shape) for w in model.weights)
    for weight in model.weights:
        assert any(np.array_equal(v, weight.numpy()) for v in saved)
    assert b"QuadraticAdversarial" not in (path / "saved_model.pb").read_bytes()
    loaded = tf.saved_model.load(str(path))
    backward = lambda ops: {op for op in ops if "Grad" in op or "Backprop" in op}
    # Prediction graphs differentiate nothing; `explain` takes one input gradient.
    assert backward(_op_types(loaded.signatures["serving_default"])) == set()
    assert backward(_op_types(loaded.signatures["predict_bytes"])) == set()
    assert backward(_op_types(loaded.signatures["explain"])) != set()


def test_input_range_comes_from_the_threat_model_box(mnist_subset, tmp_path):
    (x, y), _ = mnist_subset
    model = kq.QuadRegModel(*small_cnn(), regularizer=regularizer(-1.0, 1.0))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(2 * x[:32] - 1, y[:32], batch_size=32, verbose=0)
    loaded = tf.saved_model.load(str(kq.export_for_serving(model, tmp_path, warmup=False)))
    black = np.full((1, 28, 28, 1), -1.0, np.float32)
    from_bytes = loaded.signatures["predict_bytes"](image_bytes=png(np.zeros_like(black)))
    from_floats = loaded.signatures["serving_default"](images=black)
    np.testing.assert_allclose(from_bytes["logits"], from_floats["logits"], atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("range [-1.0, 1.0]")):
        loaded.signatures["serving_default"](images=black + 2.5)


def test_two_exports_give_versions_1_and_2(exports, tmp_path):
    model, _ = exports["plain"]
    first = kq.export_for_serving(model, tmp_path / "m", warmup=False)
    second = kq.export_for_serving(model, tmp_path / "m", warmup=False)
    assert (first, second) == (tmp_path / "m" / "1", tmp_path / "m" / "2")
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "2"]
    assert not (second / "assets.extra").exists()
    assert kq.export.versions(tmp_path / "m") == [1, 2]
    assert kq.export.next_version(tmp_path / "m") == 3


def test_explicit_version_and_a_taken_one(exports, tmp_path):
    model, _ = exports["plain"]
    assert kq.export_for_serving(model, tmp_path, version=7, warmup=False) == tmp_path / "7"
    with pytest.raises(ValueError) as error:
        kq.export_for_serving(model, tmp_path, version=7, warmup=False)
    assert str(error.value) == (
        f"Expected a new version; {tmp_path / '7'} already exists. Received: version=7"
    )
    assert kq.export_for_serving(model, tmp_path, warmup=False) == tmp_path / "8"


def test_interrupted_export_leaves_no_version_folder(exports, tmp_path, monkeypatch):
    model, _ = exports["plain"]

    def interrupted(folder, logs):
        (folder / "assets.extra").mkdir()
        (folder / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(_warmup, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kq.export_for_serving(model, tmp_path)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert kq.export_for_serving(model, tmp_path) == tmp_path / "1"


KILLED_EXPORT = """
import os, signal, sys
import keras
import keras_quadreg as kq
from keras_quadreg.export import _warmup

inputs = keras.Input((8, 8, 1))
model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
# Killed after the SavedModel is written, before the version is published.
_warmup.write = lambda folder, logs: os.kill(os.getpid(), signal.SIGKILL)
kq.export_for_serving(model, sys.argv[1], from_logits=True)
"""


def test_killed_export_leaves_no_version_folder(tmp_path):
    paths = [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    killed = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(tmp_path)], env=env)
    assert killed.returncode == -9
    (leftover,) = os.listdir(tmp_path)  # the staging folder, which TF Serving ignores
    assert leftover.startswith(_versions.TEMPORARY_PREFIX)
    assert (tmp_path / leftover / "saved_model.pb").exists()
    assert kq.export.versions(tmp_path) == []


def test_publish_takes_the_next_version_when_another_export_got_there_first(tmp_path, monkeypatch):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"another export")
    stale = iter([1])  # the version this export chose before the other one landed
    real = _versions.next_version
    monkeypatch.setattr(_versions, "next_version", lambda base: next(stale, None) or real(base))
    staging = tmp_path / ".tmp-export-test"
    staging.mkdir()
    assert _versions.publish(staging, tmp_path) == tmp_path / "2"
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]


def test_missing_serving_api_is_reported_clearly(exports, tmp_path, monkeypatch):
    model, _ = exports["plain"]
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    with pytest.raises(ImportError) as error:
        kq.export_for_serving(model, tmp_path)
    assert str(error.value) == _warmup.INSTALL_HINT
    assert os.listdir(tmp_path) == []


def _invalid_models():
    inputs = keras.Input((28, 28, 1))
    two = keras.Model(
        [inputs, keras.Input((28, 28, 1))],
        keras.layers.Dense(10)(keras.layers.Flatten()(inputs)),
    )
    flat_input = keras.Input((784,))
    return {
        "not a model": (
            "a model",
            "Expected a keras.Model. Received: model='a model'",
        ),
        "unbuilt": (
            keras.Sequential([keras.layers.Dense(10)]),
            "Expected a built model: train it, or call it on a batch, before export. "
            "Received: model.built=False",
        ),
        "two inputs": (
            two,
            "Expected a model with one input (a batch of images). Received: 2 inputs",
        ),
        "vectors": (
            keras.Model(flat_input, keras.layers.Dense(10)(flat_input)),
            "Expected the model's input to be images [batch, height, width, channels] with "
            "known sizes and 1 (grayscale) or 3 (RGB) channels. Received: input shape=(None, 784)",
        ),
        "one output unit": (
            keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs))),
            "Expected a classifier: one output of shape [batch, classes] with at least 2 "
            "classes. Received: output shapes=[(None, 1)]",
        ),
        "uncompiled, last layer says nothing": (
            keras.Model(inputs, keras.layers.Flatten()(keras.layers.AveragePooling2D(14)(inputs))),
            "Cannot tell whether the model outputs logits or probabilities from its compiled "
            "loss or its last layer; pass `from_logits=True` (logits) or `from_logits=False` "
            "(probabilities). Received: from_logits=None",
        ),
    }


@pytest.mark.parametrize("case", list(_invalid_models()))
def test_invalid_model_is_rejected_before_writing(case, tmp_path):
    model, message = _invalid_models()[case]
    with pytest.raises(ValueError) as error:
        kq.export_for_serving(model, tmp_path / "m")
    assert str(error.value) == message
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"version": 0}, "Expected `version` to be an integer >= 1. Received: version=0"),
        ({"version": "2"}, "Expected `version` to be an integer >= 1. Received: version='2'"),
        (
            {"input_range": (1.0, 0.0)},
            "Expected `input_range` to be a pair of finite numbers (low, high) with low < high. "
            "Received: input_range=(1.0, 0.0)",
        ),
        (
            {"input_range": (0.0, float("inf"))},
            "Expected `input_range` to be a pair of finite numbers (low, high) with low < high. "
            "Received: input_range=(0.0, inf)",
        ),
        (
            {"from_logits": "yes"},
            "Expected `from_logits` to be True, False or None. Received: from_logits='yes'",
        ),
        (
            {"warmup": "yes"},
            "Expected `warmup` to be True, False, or a batch of images. Received: warmup='yes'",
        ),
        (
            {"warmup": np.zeros((2, 28, 28), np.float32)},
            "Expected `warmup` images of shape [n, 28, 28, 1] with n >= 1. "
            "Received: warmup.shape=(2, 28, 28)",
        ),
        (
            {"warmup": np.full((1, 28, 28, 1), 2.0, np.float32)},
            "Expected `warmup` images with finite values in the input range [0.0, 1.0]. "
            "Received: min=2.0, max=2.0",
        ),
    ],
)
def test_invalid_argument_is_rejected_before_writing(kwargs, message, exports, tmp_path):
    model, _ = exports["plain"]
    with pytest.raises(ValueError) as error:
        kq.export_for_serving(model, tmp_path / "m", **kwargs)
    assert str(error.value) == message
    assert not (tmp_path / "m").exists()


def test_base_path_must_be_a_folder_path(exports, tmp_path):
    model, _ = exports["plain"]
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError) as error:
        kq.export_for_serving(model, tmp_path / "file")
    assert str(error.value) == (
        "Expected `base_path` to be a folder of model versions; it is a file. "
        f"Received: base_path={str(tmp_path / 'file')!r}"
    )
    with pytest.raises(ValueError) as error:
        kq.export_for_serving(model, 3)
    assert str(error.value) == (
        "Expected `base_path` to be a path (str or os.PathLike). Received: base_path=3"
    )

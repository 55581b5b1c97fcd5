"""End to end against a real TensorFlow Serving: export, serve with the
files in serving/, query both APIs with serving/client.py.

Runs only when a `tensorflow_model_server` binary is on PATH; otherwise
every test is skipped with the reason below.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.export import _checks
from tests.conftest import REPO, small_cnn
from tests.serving._client import client

BINARY = shutil.which("tensorflow_model_server")
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason=(
        "tensorflow_model_server is not on PATH. No PyPI or Debian package ships it: "
        "install `tensorflow-model-server` from TF Serving's apt repository "
        "(http://storage.googleapis.com/tensorflow-serving-apt), or serve with "
        "serving/docker-compose.yml."
    ),
)
MODEL = "quadreg_mnist"
START_TIMEOUT = 120  # seconds for the server to load both versions


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def _outputs(model, images):
    logits = model(images, training=False)
    return {"class_ids": np.argmax(logits, -1), "probabilities": tf.nn.softmax(logits).numpy()}


@pytest.fixture(scope="module")
def server(mnist_subset, tmp_path_factory):
    """A server on serving/models.config (its base path moved to a temporary
    folder) and serving/batching.config, holding versions 1 and 2."""
    (x, y), (x_test, _) = mnist_subset
    root = tmp_path_factory.mktemp("serving")
    base = root / "models" / MODEL
    keras.utils.set_random_seed(0)
    model = kq.QuadRegModel(
        *small_cnn(),
        regularizer=kq.regularizers.QuadraticAdversarial(
            epsilon=0.1, norm="inf", iterations=1, clip_min=0.0, clip_max=1.0
        ),
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:256], y[:256], batch_size=64, verbose=0)
    kq.export_for_serving(model, base)
    version_1 = _outputs(model, x_test[:4])
    model.fit(x[256:512], y[256:512], batch_size=64, verbose=0)
    kq.export_for_serving(model, base)
    # What a killed export leaves behind: the server must not load it.
    shutil.copytree(base / "1", base / ".tmp-export-killed")

    config = (REPO / "serving" / "models.config").read_text()
    assert f'"/models/{MODEL}"' in config
    (root / "models.config").write_text(config.replace(f'"/models/{MODEL}"', json.dumps(str(base))))
    rest_port, grpc_port = _free_port(), _free_port()
    with open(root / "server.log", "w+") as log:
        process = subprocess.Popen(
            [
                BINARY,
                f"--port={grpc_port}",
                f"--rest_api_port={rest_port}",
                f"--model_config_file={root / 'models.config'}",
                "--enable_batching=true",
                f"--batching_parameters_file={REPO / 'serving' / 'batching.config'}",
                "--enable_model_warmup=true",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        rest = f"http://127.0.0.1:{rest_port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"tensorflow_model_server exited:\n{log.read()[-3000:]}")
                try:
                    status = _get(f"{rest}/v1/models/{MODEL}")["model_version_status"]
                    available = sorted(s["version"] for s in status if s["state"] == "AVAILABLE")
                    if available == ["1", "2"]:
                        break
                except OSError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(
                        f"versions 1 and 2 not available in {START_TIMEOUT} s:\n"
                        f"{log.read()[-3000:]}"
                    )
                time.sleep(0.5)
            yield {
                "rest": rest,
                "grpc": f"127.0.0.1:{grpc_port}",
                "process": process,
                "images": x_test[:4],
                "latest": _outputs(model, x_test[:4]),
                "version_1": version_1,
            }
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _predict(api, server, inputs, **kwargs):
    if api == "rest":
        return client.predict_rest(server["rest"], MODEL, inputs, **kwargs)
    return client.predict_grpc(server["grpc"], MODEL, inputs, **kwargs)


def _png(images):
    return [tf.io.encode_png(np.round(i * 255).astype(np.uint8)).numpy() for i in images]


def test_metadata_lists_the_signatures(server):
    metadata = _get(f"{server['rest']}/v1/models/{MODEL}/metadata")
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(kq.export.SIGNATURES) <= set(signatures)


@pytest.mark.parametrize("api", ["rest", "grpc"])
@pytest.mark.parametrize("encoded", [True, False], ids=["bytes", "floats"])
@pytest.mark.parametrize("explain", [False, True], ids=["predict", "explain"])
def test_predictions_match_the_keras_model(api, encoded, explain, server):
    images = server["images"]
    inputs = {"image_bytes": _png(images)} if encoded else {"images": images}
    outputs = _predict(api, server, inputs, explain=explain)
    expected = server["latest"]
    np.testing.assert_array_equal(outputs["class_ids"], expected["class_ids"])
    np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"], atol=1e-5)
    if explain:
        assert outputs["saliency"].shape == images.shape


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_the_previous_version_still_answers(api, server):
    outputs = _predict(api, server, {"images": server["images"]}, version=1)
    np.testing.assert_array_equal(outputs["class_ids"], server["version_1"]["class_ids"])
    np.testing.assert_allclose(
        outputs["probabilities"], server["version_1"]["probabilities"], atol=1e-5
    )


@pytest.mark.parametrize("api", ["rest", "grpc"])
@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"images": np.zeros((2, 28, 28), np.float32)}, None),
        (
            {"images": np.full((1, 28, 28, 1), np.nan, np.float32)},
            _checks.NON_FINITE.format(name="images"),
        ),
        ({"image_bytes": [b"not an image"]}, "Unknown image file format."),
    ],
    ids=["rank 3", "NaN", "undecodable"],
)
def test_malformed_requests_get_errors_and_the_server_lives_on(api, inputs, message, server):
    with pytest.raises(client.ServingError) as error:
        _predict(api, server, inputs)
    if message is not None:
        assert message in str(error.value)
    assert server["process"].poll() is None
    outputs = _predict(api, server, {"images": server["images"]})
    np.testing.assert_array_equal(outputs["class_ids"], server["latest"]["class_ids"])

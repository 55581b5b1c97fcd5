"""serving/client.py: the requests it builds, the replies it reads, its CLI.

The transport tests run against small in-process stand-ins that answer
with fixed replies; tests/serving/test_model_server.py talks to a real
TensorFlow Serving when one is installed.
"""

import base64
import http.server
import json
import sys
import threading
from concurrent import futures

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_quadreg.export import _signatures
from tests.serving._client import client

PNG = tf.io.encode_png(np.arange(4, dtype=np.uint8).reshape(2, 2, 1)).numpy()
OUTPUTS = {
    "class_ids": np.array([1, 0], np.int64),
    "probabilities": np.array([[0.25, 0.75], [0.5, 0.5]], np.float32),
}


def test_names_match_the_export():
    assert (client.PREDICT, client.PREDICT_BYTES, client.EXPLAIN, client.EXPLAIN_BYTES) == (
        _signatures.SIGNATURES
    )
    assert (client.IMAGES, client.IMAGE_BYTES) == (_signatures.IMAGES, _signatures.IMAGE_BYTES)
    assert (client.CLASS_IDS, client.PROBABILITIES, client.SALIENCY) == (
        _signatures.CLASS_IDS,
        _signatures.PROBABILITIES,
        _signatures.SALIENCY,
    )


@pytest.mark.parametrize(
    "server, version, url",
    [
        ("http://localhost:8501", None, "http://localhost:8501/v1/models/m:predict"),
        ("http://localhost:8501/", 3, "http://localhost:8501/v1/models/m/versions/3:predict"),
    ],
)
def test_rest_url(server, version, url):
    assert client.rest_url(server, "m", version) == url


def test_rest_request_carries_image_bytes_as_base64():
    body = client.rest_request("predict_bytes", {"image_bytes": [PNG, b"\x00\xff"]})
    assert body == {
        "signature_name": "predict_bytes",
        "inputs": {"image_bytes": [{"b64": base64.b64encode(PNG).decode()}, {"b64": "AP8="}]},
    }


def test_rest_request_carries_float_images_exactly():
    images = np.array([[[[0.1], [1 / 3]], [[0.0], [1.0]]]], np.float32)
    body = client.rest_request("explain", {"images": images})
    assert body["signature_name"] == "explain"
    sent = np.array(json.loads(json.dumps(body))["inputs"]["images"], np.float32)
    assert sent.shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(sent, images)


@pytest.mark.parametrize(
    "inputs, explain, signature",
    [
        ({"images": None}, False, "serving_default"),
        ({"image_bytes": None}, False, "predict_bytes"),
        ({"images": None}, True, "explain"),
        ({"image_bytes": None}, True, "explain_bytes"),
    ],
)
def test_signature_for(inputs, explain, signature):
    assert client.signature_for(inputs, explain) == signature


def test_grpc_request_for_image_bytes():
    request = client.grpc_request("quadreg_mnist", "predict_bytes", {"image_bytes": [PNG, PNG]}, 2)
    assert request.model_spec.name == "quadreg_mnist"
    assert request.model_spec.signature_name == "predict_bytes"
    assert request.model_spec.version.value == 2
    ((name, tensor),) = request.inputs.items()
    assert name == "image_bytes"
    assert tensor.dtype == tf.string.as_datatype_enum
    assert [d.size for d in tensor.tensor_shape.dim] == [2]
    assert list(tensor.string_val) == [PNG, PNG]


def test_grpc_request_for_float_images():
    images = np.random.default_rng(0).random((3, 2, 2, 1), np.float32)
    request = client.grpc_request("m", "serving_default", {"images": images})
    assert not request.model_spec.HasField("version")
    tensor = request.inputs["images"]
    assert tensor.dtype == tf.float32.as_datatype_enum
    np.testing.assert_array_equal(tf.make_ndarray(tensor), images)


def test_parse_rest_response():
    parsed = client.parse_rest_response({"outputs": {k: v.tolist() for k, v in OUTPUTS.items()}})
    for key, value in OUTPUTS.items():
        np.testing.assert_array_equal(parsed[key], value)
    with pytest.raises(client.ServingError, match="^bad request$"):
        client.parse_rest_response({"error": "bad request"})


def test_parse_grpc_response():
    response = predict_pb2.PredictResponse()
    for key, value in OUTPUTS.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    parsed = client.parse_grpc_response(response)
    for key, value in OUTPUTS.items():
        np.testing.assert_array_equal(parsed[key], value)
        assert parsed[key].dtype == value.dtype


class _FakeRest(http.server.BaseHTTPRequestHandler):
    """Answers like TF Serving: outputs for a good request, HTTP 400 with a
    JSON `error` for a request to the model named `broken`."""

    received = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, body))
        if "broken" in self.path:
            status, reply = 400, {"error": "assertion failed: [Expected `images` ...]"}
        else:
            count = len(next(iter(body["inputs"].values())))
            outputs = {k: v[:count].tolist() for k, v in OUTPUTS.items()}
            if body["signature_name"].startswith("explain"):
                outputs["saliency"] = np.ones((count, 2, 2, 1)).tolist()
            status, reply = 200, {"outputs": outputs}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def rest_server():
    _FakeRest.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeRest)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _FakeRest.received
    server.shutdown()
    server.server_close()


def test_predict_rest_posts_the_request_and_reads_the_reply(rest_server):
    url, received = rest_server
    outputs = client.predict_rest(url, "quadreg_mnist", {"image_bytes": [PNG]}, version=2)
    assert received == [
        (
            "/v1/models/quadreg_mnist/versions/2:predict",
            client.rest_request("predict_bytes", {"image_bytes": [PNG]}),
        )
    ]
    np.testing.assert_array_equal(outputs["class_ids"], [1])
    with pytest.raises(client.ServingError, match=r"^assertion failed: \[Expected `images` ...\]$"):
        client.predict_rest(url, "broken", {"image_bytes": [PNG]})


def test_predict_rest_reports_an_unreachable_server():
    with pytest.raises(client.ServingError, match="^Cannot reach http://127.0.0.1:9: "):
        client.predict_rest("http://127.0.0.1:9", "m", {"image_bytes": [PNG]}, timeout=5)


class _FakePrediction(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self):
        self.received = []

    def Predict(self, request, context):
        self.received.append(request)
        if request.model_spec.name == "broken":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Unknown image file format.")
        response = predict_pb2.PredictResponse()
        for key, value in OUTPUTS.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


def test_predict_grpc_sends_the_request_and_reads_the_reply():
    servicer = _FakePrediction()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        target = f"127.0.0.1:{port}"
        inputs = {"image_bytes": [PNG, PNG]}
        outputs = client.predict_grpc(target, "quadreg_mnist", inputs, explain=True)
        assert servicer.received == [client.grpc_request("quadreg_mnist", "explain_bytes", inputs)]
        np.testing.assert_array_equal(outputs["probabilities"], OUTPUTS["probabilities"])
        message = "^INVALID_ARGUMENT: Unknown image file format.$"
        with pytest.raises(client.ServingError, match=message):
            client.predict_grpc(target, "broken", {"image_bytes": [PNG]})
    finally:
        server.stop(None)


def test_cli_prints_one_line_per_image_and_saves_saliency(rest_server, tmp_path, capsys):
    url, received = rest_server
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(PNG)
    saliency = tmp_path / "saliency.npy"
    code = client.main(
        [
            "--rest",
            url,
            "--model",
            "quadreg_mnist",
            "--explain",
            str(saliency),
            str(tmp_path / "a.png"),
            str(tmp_path / "b.png"),
        ]
    )
    assert code == 0
    assert received[0][1]["signature_name"] == "explain_bytes"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"input": str(tmp_path / "a.png"), "class_id": 1, "probabilities": [0.25, 0.75]},
        {"input": str(tmp_path / "b.png"), "class_id": 0, "probabilities": [0.5, 0.5]},
    ]
    np.testing.assert_array_equal(np.load(saliency), np.ones((2, 2, 2, 1)))


def test_cli_sends_npy_float_images_to_the_float_signature(rest_server, tmp_path, capsys):
    url, received = rest_server
    np.save(tmp_path / "batch.npy", np.zeros((2, 2, 2, 1), np.float32))
    assert client.main(["--rest", url, "--model", "m", str(tmp_path / "batch.npy")]) == 0
    assert received[0][1]["signature_name"] == "serving_default"
    inputs = [json.loads(line)["input"] for line in capsys.readouterr().out.splitlines()]
    assert inputs == [f"{tmp_path / 'batch.npy'}[0]", f"{tmp_path / 'batch.npy'}[1]"]


def test_cli_reports_server_errors(rest_server, tmp_path, capsys):
    url, _ = rest_server
    (tmp_path / "a.png").write_bytes(PNG)
    assert client.main(["--rest", url, "--model", "broken", str(tmp_path / "a.png")]) == 1
    assert capsys.readouterr().err == "error: assertion failed: [Expected `images` ...]\n"


def test_cli_rejects_mixed_inputs(tmp_path, capsys):
    code = client.main(["--rest", "http://127.0.0.1:9", "--model", "m", "a.png", "b.npy"])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: Expected either image files or `.npy` arrays, not both. "
        "Received: ['a.png', 'b.npy']\n"
    )


def test_grpc_without_the_serving_api_says_what_to_install(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.png").write_bytes(PNG)
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    code = client.main(["--grpc", "127.0.0.1:9", "--model", "m", str(tmp_path / "a.png")])
    assert code == 1
    assert capsys.readouterr().err == f"error: {client.GRPC_HINT}\n"

"""Query a model exported by `kq.export_for_serving` on TF Serving.

REST needs only the standard library and numpy; gRPC needs the
`tensorflow-serving-api` package (`pip install keras-quadreg[serving]`).

Image files (PNG, JPEG) are sent as encoded bytes, base64 over REST, to the
`predict_bytes` signature (or `explain_bytes`): the server decodes, resizes
and scales them. `.npy` files of float images already in the model's input
range go to `serving_default` (or `explain`).

Example:

```
python serving/client.py --rest http://localhost:8501 --model quadreg_mnist image.png
python serving/client.py --grpc localhost:8500 --model quadreg_mnist --explain s.npy image.png
```

Each input prints one JSON line: the file, the predicted class id and the
class probabilities. `--explain PATH` also saves the saliency maps,
`[n, H, W, C]`, to `PATH` with `numpy.save`.
"""

import argparse
import base64
import json
import pathlib
import sys
import urllib.error
import urllib.request

import numpy as np

# The names `kq.export_for_serving` gives its signatures and tensors.
PREDICT, PREDICT_BYTES = "serving_default", "predict_bytes"
EXPLAIN, EXPLAIN_BYTES = "explain", "explain_bytes"
IMAGES, IMAGE_BYTES = "images", "image_bytes"
CLASS_IDS, PROBABILITIES, SALIENCY = "class_ids", "probabilities", "saliency"

GRPC_HINT = (
    "The gRPC client needs the `tensorflow-serving-api` package: "
    "pip install 'keras-quadreg[serving]' (or pip install tensorflow-serving-api)."
)


class ServingError(RuntimeError):
    """The server rejected a request or could not be reached."""


def signature_for(inputs, explain=False):
    """The signature that takes `inputs` (`{IMAGES: ...}` or `{IMAGE_BYTES: ...}`)."""
    encoded = IMAGE_BYTES in inputs
    if explain:
        return EXPLAIN_BYTES if encoded else EXPLAIN
    return PREDICT_BYTES if encoded else PREDICT


def rest_url(server, model, version=None):
    """`POST` address of the predict API, e.g. `http://localhost:8501/v1/models/m:predict`."""
    versioned = f"/versions/{version}" if version is not None else ""
    return f"{server.rstrip('/')}/v1/models/{model}{versioned}:predict"


def rest_request(signature, inputs):
    """The JSON body of a predict request in TF Serving's columnar format.

    Byte strings become `{"b64": ...}` objects, the encoding TF Serving's REST
    API requires for binary values; float arrays become nested lists.
    """
    columns = {}
    for name, value in inputs.items():
        if name == IMAGE_BYTES:
            columns[name] = [{"b64": base64.b64encode(b).decode("ascii")} for b in value]
        else:
            columns[name] = np.asarray(value, np.float32).tolist()
    return {"signature_name": signature, "inputs": columns}


def parse_rest_response(body):
    """`{output name: numpy array}` from a REST reply; raises `ServingError`
    with the server's message on an error reply."""
    if "error" in body:
        raise ServingError(body["error"])
    return {name: np.asarray(value) for name, value in body["outputs"].items()}


def predict_rest(server, model, inputs, *, explain=False, version=None, timeout=30.0):
    """Sends `inputs` to the REST API and returns the outputs."""
    body = json.dumps(rest_request(signature_for(inputs, explain), inputs)).encode("utf-8")
    request = urllib.request.Request(
        rest_url(server, model, version), data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return parse_rest_response(json.load(reply))
    except urllib.error.HTTPError as error:  # TF Serving explains errors in a JSON body
        try:
            message = json.load(error)["error"]
        except (ValueError, KeyError):
            message = f"HTTP {error.code}: {error.reason}"
        raise ServingError(message) from None
    except urllib.error.URLError as error:
        raise ServingError(f"Cannot reach {server}: {error.reason}") from None


def _serving_apis():
    try:
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    except ImportError as error:
        raise ImportError(GRPC_HINT) from error
    return tf, predict_pb2, prediction_service_pb2_grpc


def grpc_request(model, signature, inputs, version=None):
    """A `PredictRequest` proto for `inputs`."""
    tf, predict_pb2, _ = _serving_apis()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        if name == IMAGE_BYTES:
            proto = tf.make_tensor_proto(list(value), dtype=tf.string)
        else:
            proto = tf.make_tensor_proto(np.asarray(value, np.float32))
        request.inputs[name].CopyFrom(proto)
    return request


def parse_grpc_response(response):
    """`{output name: numpy array}` from a `PredictResponse`."""
    tf, _, _ = _serving_apis()
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def predict_grpc(target, model, inputs, *, explain=False, version=None, timeout=30.0):
    """Sends `inputs` to the gRPC API at `target` (`host:port`) and returns the outputs."""
    _, _, service = _serving_apis()
    import grpc

    request = grpc_request(model, signature_for(inputs, explain), inputs, version)
    # Saliency maps of a large batch exceed gRPC's default 4 MB reply limit.
    options = [("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(target, options=options) as channel:
        try:
            response = service.PredictionServiceStub(channel).Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(f"{error.code().name}: {error.details()}") from None
    return parse_grpc_response(response)


def read_inputs(paths):
    """`(names, inputs)`: a name per image, and `{IMAGE_BYTES: [bytes]}` for
    image files or `{IMAGES: array}` for `.npy` files (`[H, W, C]` or
    `[n, H, W, C]` each)."""
    paths = [pathlib.Path(p) for p in paths]
    arrays = [p.suffix.lower() == ".npy" for p in paths]
    if any(arrays) and not all(arrays):
        raise ValueError(
            "Expected either image files or `.npy` arrays, not both. "
            f"Received: {[str(p) for p in paths]}"
        )
    if not all(arrays):
        return [str(p) for p in paths], {IMAGE_BYTES: [p.read_bytes() for p in paths]}
    names, batches = [], []
    for path in paths:
        array = np.load(path).astype(np.float32)
        if array.ndim == 3:
            names.append(str(path))
            batches.append(array[None])
        else:
            names += [f"{path}[{i}]" for i in range(len(array))]
            batches.append(array)
    return names, {IMAGES: np.concatenate(batches)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    server = parser.add_mutually_exclusive_group(required=True)
    server.add_argument("--rest", metavar="URL", help="REST API, e.g. http://localhost:8501")
    server.add_argument("--grpc", metavar="HOST:PORT", help="gRPC API, e.g. localhost:8500")
    parser.add_argument("--model", required=True, help="model name in models.config")
    parser.add_argument("--version", type=int, help="model version (default: the latest)")
    parser.add_argument("--explain", metavar="PATH", help="also save saliency maps to PATH (.npy)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("inputs", nargs="+", help="PNG/JPEG files, or .npy float images")
    args = parser.parse_args(argv)

    try:
        names, inputs = read_inputs(args.inputs)
        kwargs = dict(explain=args.explain is not None, version=args.version, timeout=args.timeout)
        if args.rest:
            outputs = predict_rest(args.rest, args.model, inputs, **kwargs)
        else:
            outputs = predict_grpc(args.grpc, args.model, inputs, **kwargs)
    except (ServingError, ImportError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, class_id, probabilities in zip(names, outputs[CLASS_IDS], outputs[PROBABILITIES]):
        line = {"input": name, "class_id": int(class_id), "probabilities": probabilities.tolist()}
        print(json.dumps(line))
    if args.explain:
        np.save(args.explain, outputs[SALIENCY])
    return 0


if __name__ == "__main__":
    sys.exit(main())

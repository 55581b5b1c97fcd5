"""Warmup requests TF Serving replays when it loads a version.

They live in `assets.extra/tf_serving_warmup_requests`: a TFRecord file of
`PredictionLog` protos (at most 1000). One request per signature, so every
signature's graph is initialized before the first real request.
"""

import numpy as np
import tensorflow as tf

from keras_quadreg.export import _signatures

WARMUP_FILE = ("assets.extra", "tf_serving_warmup_requests")
INSTALL_HINT = (
    "Writing TF Serving warmup requests needs the `tensorflow-serving-api` "
    "package: `pip install keras-quadreg[serving]`, or pass `warmup=False`."
)


def _apis():
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    return model_pb2, predict_pb2, prediction_log_pb2


def encode_png(images, input_range):
    """Float images in `input_range` -> a list of PNG strings (8 bits)."""
    low, high = input_range
    pixels = np.clip(np.round((images - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)
    return [tf.io.encode_png(image).numpy() for image in pixels]


def requests(images, input_range, model_name):
    """One `PredictionLog` per signature, all on the batch `images`."""
    model_pb2, predict_pb2, prediction_log_pb2 = _apis()
    inputs = {
        _signatures.IMAGES: tf.make_tensor_proto(images.astype(np.float32)),
        _signatures.IMAGE_BYTES: tf.make_tensor_proto(
            encode_png(images, input_range), dtype=tf.string
        ),
    }
    logs = []
    for signature, input_name in _signatures.INPUTS.items():
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
        )
        request.inputs[input_name].CopyFrom(inputs[input_name])
        logs.append(
            prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
        )
    return logs


def write(saved_model_dir, logs):
    """Writes `logs` where TF Serving looks for them; returns the file's path."""
    folder = saved_model_dir.joinpath(WARMUP_FILE[0])
    folder.mkdir(exist_ok=True)
    path = folder / WARMUP_FILE[1]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path

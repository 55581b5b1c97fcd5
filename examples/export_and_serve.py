"""Export a robust model for TensorFlow Serving and query it.

Trains a small QuadRegModel on MNIST (or loads `--model`), exports it with
`kq.export_for_serving` to `--base/<version>/`, and checks the export the way
TF Serving will use it: it loads the SavedModel, runs the float-image
signature, the PNG-bytes signature and the `explain` signature (prediction +
saliency map), and prints the REST request `serving/client.py` would send.
With `--rest URL` (a running server, see serving/README.md), it also queries
the server. MNIST comes from TFDS (downloaded once), or offline from the raw
files in `--data-dir` (default: `$KERAS_QUADREG_DATA`).

    python examples/export_and_serve.py --base models/quadreg_mnist
    docker compose -f serving/docker-compose.yml up -d
    python examples/export_and_serve.py --model robust.keras --base models/quadreg_mnist \\
        --rest http://localhost:8501
"""

import argparse
import importlib.util
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_quadreg as kq  # noqa: E402

CLIENT = pathlib.Path(__file__).resolve().parents[1] / "serving" / "client.py"


def load_client():
    spec = importlib.util.spec_from_file_location("quadreg_serving_client", CLIENT)
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    return client


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("KERAS_QUADREG_DATA"))
    parser.add_argument("--model", default=None, help="a trained .keras model (default: train one)")
    parser.add_argument("--base", required=True, help="TF Serving base path of the model")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--rest", default=None, help="URL of a running TF Serving REST API")
    args = parser.parse_args(argv)

    if args.model:
        model = keras.models.load_model(args.model)
    else:
        keras.utils.set_random_seed(0)
        model = kq.QuadRegModel(
            *kq.architectures.madry_cnn(filters=(16, 32), dense_units=128),
            regularizer=kq.regularizers.QuadraticAdversarial(0.3, clip_min=0.0, clip_max=1.0),
        )
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(
            kq.data.load("mnist", "train", 128, data_dir=args.data_dir, limit=args.limit),
            epochs=args.epochs,
            shuffle=False,
            verbose=2,
        )
    path = kq.export_for_serving(model, args.base)
    print(f"exported to {path}")

    images, labels = kq.data.load_arrays("mnist", "test", data_dir=args.data_dir, limit=4)
    loaded = tf.saved_model.load(str(path))
    floats = loaded.signatures["serving_default"](images=tf.constant(images))
    png = tf.stack([tf.io.encode_png(tf.cast(tf.round(image * 255), tf.uint8)) for image in images])
    from_bytes = loaded.signatures["predict_bytes"](image_bytes=png)
    explained = loaded.signatures["explain"](images=tf.constant(images))
    print("labels:              ", labels.tolist())
    print("serving_default:     ", floats["class_ids"].numpy().tolist())
    print("predict_bytes (PNG): ", from_bytes["class_ids"].numpy().tolist())
    print("explain saliency:    ", tuple(explained["saliency"].shape))
    np.testing.assert_allclose(from_bytes["probabilities"], floats["probabilities"], atol=1e-5)

    client = load_client()
    inputs = {client.IMAGE_BYTES: png.numpy().tolist()}
    request = client.rest_request(client.PREDICT_BYTES, inputs)
    name = pathlib.Path(args.base).resolve().name
    print(f"REST request for {client.rest_url('http://localhost:8501', name)}:")
    print(json.dumps(request)[:200] + " ...")
    if args.rest:
        answer = client.predict_rest(args.rest, name, inputs)
        print("server class ids:", answer[client.CLASS_IDS])
    return floats, from_bytes, explained


if __name__ == "__main__":
    main()

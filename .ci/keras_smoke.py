"""Smoke test of the Keras internals keras_quadreg relies on.

Runs every wrapper of `keras_quadreg/_keras_compat.py` once: builds a
functional and a subclassed `QuadRegModel` (the latter under a
`MirroredStrategy`), fits each two steps, evaluates, saves and reloads a
`.keras` file, and exports for serving. `.ci/run` runs it against the
newest Keras and TensorFlow and against the lowest setup.cfg allows.

Usage: python .ci/keras_smoke.py [KERAS_VERSION [TENSORFLOW_VERSION]]

With versions, it first checks that they are the ones it imports.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_quadreg as kq  # noqa: E402


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (16, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    return x, y


def _regularizer():
    return kq.regularizers.QuadraticAdversarial(
        epsilon=0.1, norm="inf", iterations=1, clip_min=0.0, clip_max=1.0
    )


def _compile(model):
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


class SmokeSubclassed(kq.QuadRegModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(self.flatten(x))


def main(expected_keras=None, expected_tensorflow=None):
    if expected_keras is not None and keras.__version__ != expected_keras:
        sys.exit(f"keras_smoke: expected Keras {expected_keras}, imported {keras.__version__}")
    if expected_tensorflow is not None and tf.__version__ != expected_tensorflow:
        sys.exit(
            f"keras_smoke: expected TensorFlow {expected_tensorflow}, imported {tf.__version__}"
        )
    x, y = _data()
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    model = kq.QuadRegModel(inputs, outputs, regularizer=_regularizer())
    _compile(model)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    logs = history.history
    assert {"loss", "clean_loss", "accuracy"} <= set(logs), logs
    model.evaluate(x, y, batch_size=8, verbose=0)

    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "model.keras"
        model.save(path)
        reloaded = keras.models.load_model(path)
        assert type(reloaded).__name__ == "QuadRegModel", type(reloaded)
        np.testing.assert_allclose(
            reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
        )
        export = kq.export_for_serving(reloaded, pathlib.Path(folder) / "serving")
        served = tf.saved_model.load(str(export)).signatures["serving_default"](images=x)
        np.testing.assert_array_equal(
            served["class_ids"].numpy(), np.argmax(model.predict(x, verbose=0), axis=-1)
        )

    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        subclassed = SmokeSubclassed(regularizer=_regularizer())
        _compile(subclassed)
    subclassed.fit(x, y, batch_size=8, epochs=1, verbose=0)
    print(f"keras_smoke: ok with Keras {keras.__version__}, TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

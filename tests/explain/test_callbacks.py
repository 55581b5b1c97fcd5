import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from tests.conftest import small_cnn


def _logged_images(log_dir):
    """`{(tag, step): decoded image}` from the event files under `log_dir`."""
    images = {}
    for path in (log_dir / "explanations").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                # tf.summary.image stores [width, height, png, ...] strings.
                png = value.tensor.string_val[2]
                images[(value.tag, event.step)] = tf.io.decode_png(png).numpy()
    return images


def test_saliency_callback_writes_maps_to_tensorboard(mnist_subset, tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist_subset
    model = kq.QuadRegModel(*small_cnn())
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = kq.explain.SaliencyCallback(
        x_test[:3],
        tmp_path,
        methods=["vanilla", kq.explain.SmoothGrad(num_samples=2)],
        classes=y_test[:3],
    )
    model.fit(
        x_train[:128], y_train[:128], epochs=2, batch_size=64, verbose=0, callbacks=[callback]
    )
    images = _logged_images(tmp_path)
    assert sorted(images) == [
        ("saliency/smoothgrad", 0),
        ("saliency/smoothgrad", 1),
        ("saliency/vanilla", 0),
        ("saliency/vanilla", 1),
    ]
    for image in images.values():
        assert image.shape == (56, 84, 3)  # inputs over maps, 3 images wide
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 1
    # Training changed the model, so its maps changed.
    assert np.any(images[("saliency/vanilla", 0)][28:] != images[("saliency/vanilla", 1)][28:])


def test_saliency_callback_logs_every_frequency_epochs(mnist_subset, tmp_path):
    (x_train, y_train), (x_test, _) = mnist_subset
    model = keras.Model(*small_cnn())
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = kq.explain.SaliencyCallback(x_test[:2], tmp_path, frequency=2)
    model.fit(x_train[:64], y_train[:64], epochs=3, verbose=0, callbacks=[callback])
    assert sorted(_logged_images(tmp_path)) == [("saliency/vanilla", 1)]


def test_saliency_callback_checks_its_images_against_the_model(tmp_path):
    model = keras.Model(*small_cnn())
    callback = kq.explain.SaliencyCallback(np.zeros((2, 32, 32, 1)), tmp_path)
    with pytest.raises(ValueError) as error:
        callback.set_model(model)
    assert str(error.value) == (
        "Expected `images` to be a batch of the model's inputs, shape (batch, 28, 28, 1). "
        "Received: images.shape=(2, 32, 32, 1)"
    )
    with pytest.raises(ValueError) as error:
        kq.explain.SaliencyCallback(np.zeros((2, 28, 28, 1)), tmp_path, frequency=0)
    assert str(error.value) == "Expected `frequency` to be an integer >= 1. Received: frequency=0"

"""A training callback that writes saliency maps to TensorBoard.

tf-explain's own callbacks (`tf_explain.callbacks`) inherit its Keras 3
breakages (see `methods.py`), log grids whose grayscale normalization wraps
negative values, and call `tf.summary.image`, which raises
`TBNotInstalledError` unless the `tensorboard` package is installed (TF 2.21
does not install it). `SaliencyCallback` runs the same tf-explain explainers
through `kq.explain.saliency` and writes colour maps in the TensorBoard image
plugin's format with core TensorFlow: logging needs no TensorBoard, viewing
does.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.explain import _classifier, _plotting
from keras_quadreg.explain import methods as methods_lib


def write_image(tag, image, step):
    """Writes an RGB image in [0, 1] as `tf.summary.image` would.

    The image plugin's summary is a string tensor `[width, height, png]`
    tagged with plugin name `"images"` (its plugin content, version 0, is
    empty).
    """
    height, width = image.shape[:2]
    png = tf.io.encode_png(tf.image.convert_image_dtype(image, tf.uint8, saturate=True))
    metadata = tf.compat.v1.SummaryMetadata(
        plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="images")
    )
    tensor = tf.stack([tf.as_string(width), tf.as_string(height), png])
    return tf.summary.write(tag, tensor, step=step, metadata=metadata)


class SaliencyCallback(keras.callbacks.Callback):
    """Logs saliency maps of fixed images to TensorBoard during training.

    Every `frequency` epochs, for each method, writes one image under
    `"saliency/<method>"` to `<log_dir>/explanations`: the inputs in the top
    row and their maps below (red supports the class, blue opposes it), at
    step = epoch. Open it with `tensorboard --logdir <log_dir>`.

    Example:

    ```python
    callback = kq.explain.SaliencyCallback(
        x_val[:8], log_dir="logs", methods=["vanilla", "smoothgrad"], classes=y_val[:8])
    model.fit(x_train, y_train, epochs=5, callbacks=[callback])
    ```

    Args:
        images: Images `(n, height, width, channels)` in `value_range`.
        log_dir: TensorBoard log directory, as for `keras.callbacks.TensorBoard`.
        methods: Saliency methods (names or `SaliencyMethod`s).
        classes: Class each map explains: None (the current prediction), an
            int, or one int per image.
        frequency: Log every `frequency` epochs, >= 1.
        value_range: `(low, high)`, the model's valid input range.
        batch_size: Images per tf-explain call.
        seed: Integer seed of the random methods (SmoothGrad).
    """

    def __init__(
        self,
        images,
        log_dir,
        methods=("vanilla",),
        classes=None,
        frequency=1,
        value_range=(0.0, 1.0),
        batch_size=32,
        seed=0,
    ):
        super().__init__()
        if isinstance(methods, (str, methods_lib.SaliencyMethod)):
            methods = [methods]
        self.methods = [methods_lib.get(m) for m in methods]
        if not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(f"Expected `log_dir` to be a path. Received: log_dir={log_dir!r}")
        self.log_dir = os.fspath(log_dir)
        self.frequency = _validation.integer("frequency", frequency, minimum=1)
        self.value_range = _classifier.check_value_range(value_range)
        self.batch_size = _validation.integer("batch_size", batch_size, minimum=1)
        self.seed = _validation.integer("seed", seed)
        self._raw_images = images
        self._raw_classes = classes
        self._writer = None

    def set_model(self, model):
        super().set_model(model)
        # Checked against the model as soon as it is known, before training.
        classifier = _classifier.explainer_view(model)
        self._images = _classifier.check_images(self._raw_images, classifier, self.value_range)
        self._classes = (
            None
            if self._raw_classes is None
            else _classifier.check_classes(
                self._raw_classes, len(self._images), classifier.num_classes
            )
        )

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "explanations"))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.frequency:
            return
        classifier = _classifier.explainer_view(self.model)
        targets = methods_lib.resolve_classes(
            classifier, self._images, self._classes, self.batch_size
        )
        inputs = np.concatenate(list(_plotting.to_rgb(self._images, self.value_range)), axis=1)
        with self._writer.as_default():
            for method in self.methods:
                maps = methods_lib.compute(
                    classifier,
                    method,
                    self._images,
                    targets,
                    value_range=self.value_range,
                    batch_size=self.batch_size,
                    seed=self.seed,
                )
                colored = np.concatenate(list(_plotting.colorize(maps)), axis=1)
                grid = np.concatenate([inputs, colored], axis=0)
                write_image(f"saliency/{method.name}", grid, epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

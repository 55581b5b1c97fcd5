"""The serving signatures: pure functions of a Keras classifier.

Every signature returns the same three outputs, plus a saliency map for the
`explain` pair. The bytes signatures decode, resize and scale images in the
graph, then share the float signatures' code.
"""

import tensorflow as tf

from keras_quadreg import _outputs, ops
from keras_quadreg.export import _checks

SERVING_DEFAULT = "serving_default"
PREDICT_BYTES = "predict_bytes"
EXPLAIN = "explain"
EXPLAIN_BYTES = "explain_bytes"

IMAGES = "images"
IMAGE_BYTES = "image_bytes"
# Each signature's single input, `serving_default` first.
INPUTS = {
    SERVING_DEFAULT: IMAGES,
    PREDICT_BYTES: IMAGE_BYTES,
    EXPLAIN: IMAGES,
    EXPLAIN_BYTES: IMAGE_BYTES,
}
SIGNATURES = tuple(INPUTS)

CLASS_IDS = "class_ids"
PROBABILITIES = "probabilities"
LOGITS = "logits"
SALIENCY = "saliency"


class ServingClassifier:
    """A Keras classifier seen as the exported signatures see it:
    `images -> (logits, probabilities)`, and the functions of each signature.

    Args:
        model: The Keras model; called with `training=False`.
        image_shape: `(height, width, channels)` of one image.
        input_range: `(low, high)`: the values of black and white pixels.
        from_logits: Whether the model outputs logits (else probabilities).
    """

    def __init__(self, model, image_shape, input_range, from_logits):
        self.model = model
        self.image_shape = tuple(image_shape)
        self.input_range = tuple(input_range)
        self.from_logits = from_logits

    def _logits_and_probabilities(self, images):
        outputs = tf.cast(self.model(images, training=False), tf.float32)
        if self.from_logits:
            return outputs, tf.nn.softmax(outputs)
        return _outputs.log_probabilities(outputs), outputs

    def _prediction(self, logits, probabilities):
        return {
            CLASS_IDS: tf.argmax(logits, axis=-1),
            PROBABILITIES: probabilities,
            LOGITS: logits,
        }

    def predict(self, images):
        """`images -> {class_ids, probabilities, logits}`."""
        images = _checks.assert_images(images, self.image_shape, self.input_range)
        return self._prediction(*self._logits_and_probabilities(images))

    def explain(self, images):
        """The prediction plus `saliency`: the input gradient of the predicted
        class's log-probability (the negative gradient of the cross-entropy
        at the predicted label)."""
        images = _checks.assert_images(images, self.image_shape, self.input_range)

        def predicted_log_probability(x):
            logits, probabilities = self._logits_and_probabilities(x)
            predicted = tf.argmax(logits, axis=-1)
            log_probabilities = tf.nn.log_softmax(logits)
            chosen = tf.gather(log_probabilities, predicted, batch_dims=1)
            return chosen, (logits, probabilities)

        _, saliency, (logits, probabilities) = ops.input_gradient(
            predicted_log_probability, images, has_aux=True
        )
        return {**self._prediction(logits, probabilities), SALIENCY: saliency}

    def decode(self, image_bytes):
        """A batch of PNG or JPEG strings -> float images in the input range,
        resized (bilinear, antialiased) when their size differs."""
        image_bytes = _checks.assert_shape(image_bytes, (None,), IMAGE_BYTES)
        height, width, channels = self.image_shape
        low, high = self.input_range

        def decode_one(encoded):
            # 8 bits per channel (16-bit PNGs are scaled down): pixel p -> p / 255.
            pixels = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
            image = tf.cast(pixels, tf.float32) / 255.0
            image = tf.cond(
                tf.reduce_all(tf.equal(tf.shape(image)[:2], [height, width])),
                lambda: image,
                lambda: tf.image.resize(image, [height, width], antialias=True),
            )
            image = tf.ensure_shape(image, self.image_shape)
            return low + (high - low) * image

        return tf.map_fn(
            decode_one,
            image_bytes,
            fn_output_signature=tf.TensorSpec(self.image_shape, tf.float32),
        )

    def predict_bytes(self, image_bytes):
        return self.predict(self.decode(image_bytes))

    def explain_bytes(self, image_bytes):
        return self.explain(self.decode(image_bytes))

    def endpoints(self):
        """`{signature name: (function, [TensorSpec])}`, in `SIGNATURES` order."""
        specs = {
            IMAGES: tf.TensorSpec((None, *self.image_shape), tf.float32, name=IMAGES),
            IMAGE_BYTES: tf.TensorSpec((None,), tf.string, name=IMAGE_BYTES),
        }
        functions = {
            SERVING_DEFAULT: self.predict,
            PREDICT_BYTES: self.predict_bytes,
            EXPLAIN: self.explain,
            EXPLAIN_BYTES: self.explain_bytes,
        }
        return {name: (functions[name], [specs[INPUTS[name]]]) for name in SIGNATURES}

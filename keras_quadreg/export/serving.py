"""`export_for_serving`: a trained classifier -> a TF Serving model version."""

import numbers
import os
import pathlib

import keras
import numpy as np

from keras_quadreg import _keras_compat as compat
from keras_quadreg import _outputs, _validation
from keras_quadreg.export import _signatures, _versions, _warmup

DEFAULT_INPUT_RANGE = (0.0, 1.0)


def export_for_serving(
    model,
    base_path,
    *,
    version=None,
    input_range=None,
    from_logits=None,
    warmup=True,
):
    """Exports a Keras image classifier as a new TF Serving model version.

    Writes a SavedModel to `base_path/<version>/` through Keras's
    `keras.export.ExportArchive`: only the inference graph (`model(x,
    training=False)`), never a `QuadRegModel`'s regularizer or optimizer.
    The version is written to a hidden folder and renamed into place, so a
    server polling `base_path` never loads a half-written model, and an
    interrupted export leaves no version behind. A model whose weights, or
    whose outputs on the warmup images (one mid-gray image without warmup),
    are not finite is refused before anything is written.

    Signatures, each with one named input and named outputs:

    - `serving_default`: `images`, float32 `[batch, H, W, C]` in
      `input_range` -> `class_ids` int64 `[batch]`, `probabilities` and
      `logits` float32 `[batch, classes]`.
    - `predict_bytes`: `image_bytes`, string `[batch]` of encoded PNG or
      JPEG images -> the same outputs.
    - `explain`: `images` -> the same outputs plus `saliency`, float32
      `[batch, H, W, C]`.
    - `explain_bytes`: `image_bytes` -> as `explain`.

    `saliency` is the gradient, with respect to the input, of the predicted
    class's log-probability; robust models' gradients look like the object
    they classify. The bytes signatures decode each image to `C` channels,
    resize it (bilinear, antialiased) when it is not `H x W`, and scale its
    pixels to `input_range`. Every signature rejects a malformed request
    (wrong shape or dtype, NaN or Inf, values outside `input_range`,
    undecodable bytes) with an `InvalidArgumentError` instead of computing
    garbage or crashing the server.

    Unless `warmup=False`, `assets.extra/tf_serving_warmup_requests` holds
    one `PredictionLog` per signature, which TF Serving replays on load.

    Example:

    ```python
    path = kq.export_for_serving(model, "models/quadreg_mnist")  # models/quadreg_mnist/1
    reloaded = tf.saved_model.load(str(path))
    outputs = reloaded.signatures["serving_default"](images=x_test[:8])
    outputs["class_ids"], outputs["probabilities"]
    ```

    Args:
        model: A built `keras.Model` (a `QuadRegModel` or any other) with one
            input, images `[batch, H, W, C]` with `C` 1 (grayscale) or 3
            (RGB), and one output `[batch, classes]`.
        base_path: Folder holding the model's versions (TF Serving's
            `base_path`); created if missing. Its name is the model name in
            the warmup requests.
        version: Integer >= 1, or None for one more than the largest version
            in `base_path` (1 if there is none).
        input_range: `(low, high)`, the input values of black and white
            pixels. None takes the box of a `QuadRegModel` regularizer's
            threat model (`clip_min`, `clip_max`) when it has one, else
            `(0.0, 1.0)`.
        from_logits: Whether the model outputs logits (True) or
            probabilities (False), for a model whose compiled loss and last
            layer (softmax or linear) do not say; it must agree with them
            when they do. None infers it.
        warmup: True for warmup requests on one mid-gray image, False for
            none, or a batch of representative images `[n, H, W, C]` in
            `input_range`, sent whole to every signature at each load.

    Returns:
        The `pathlib.Path` of the new version folder.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model. Received: model={model!r}")
    if not isinstance(base_path, (str, os.PathLike)):
        raise ValueError(
            "Expected `base_path` to be a path (str or os.PathLike). "
            f"Received: base_path={base_path!r}"
        )
    base = pathlib.Path(base_path)
    if base.exists() and not base.is_dir():
        raise ValueError(
            f"Expected `base_path` to be a folder of model versions; it is a file. "
            f"Received: base_path={str(base_path)!r}"
        )
    strays = [p for p in _versions.numbered(base) if not p.is_dir()]
    if strays:
        raise ValueError(
            "Expected `base_path` to hold version folders only; "
            f"{strays[0]} is a file with a version's name, which TF Serving cannot "
            f"load and a new version cannot replace. Received: base_path={str(base_path)!r}"
        )
    if version is not None:
        version = _validation.integer("version", version, minimum=1)
        if (base / str(version)).exists():
            raise ValueError(
                f"Expected a new version; {base / str(version)} already exists. "
                f"Received: version={version}"
            )
    image_shape = _image_shape(model)
    _validation.finite_weights(model)
    _check_classifier_output(model, image_shape)
    input_range = _input_range(model, input_range)
    from_logits = _outputs.from_logits(model, from_logits)
    warmup_images = _warmup_images(warmup, image_shape, input_range)
    _check_finite_outputs(model, warmup_images, image_shape, input_range)

    classifier = _signatures.ServingClassifier(model, image_shape, input_range, from_logits)
    archive = keras.export.ExportArchive()
    # No `archive.track(model)`: the archive then saves exactly the variables
    # the endpoints read, not optimizer, metric or training-only state.
    for name, (function, signature) in classifier.endpoints().items():
        archive.add_endpoint(name, function, signature)
    with _versions.staging_folder(base) as staging:
        archive.write_out(str(staging), verbose=False)
        if warmup_images is not None:
            logs = _warmup.requests(warmup_images, input_range, base.resolve().name)
            _warmup.write(staging, logs)
        return _versions.publish(staging, base, version)


def _image_shape(model):
    if not model.built:
        raise ValueError(
            "Expected a built model: train it, or call it on a batch, before export. "
            f"Received: model.built={model.built}"
        )
    try:
        signature = compat.input_signature(model)
    except ValueError as error:
        raise ValueError(
            f"Cannot infer the input shape of {model.name!r}: call it on a batch of "
            f"images before export. Received: {error}"
        ) from None
    flat = keras.tree.flatten(signature)
    if len(flat) != 1:
        raise ValueError(
            f"Expected a model with one input (a batch of images). Received: {len(flat)} inputs"
        )
    shape = tuple(flat[0].shape)
    if len(shape) != 4 or None in shape[1:] or shape[-1] not in (1, 3):
        raise ValueError(
            "Expected the model's input to be images [batch, height, width, channels] "
            "with known sizes and 1 (grayscale) or 3 (RGB) channels. "
            f"Received: input shape={shape}"
        )
    return shape[1:]


def _check_classifier_output(model, image_shape):
    spec = model.compute_output_spec(keras.KerasTensor((None, *image_shape), "float32"))
    flat = keras.tree.flatten(spec)
    shape = tuple(flat[0].shape) if len(flat) == 1 else None
    if shape is None or len(shape) != 2 or shape[-1] is None or shape[-1] < 2:
        raise ValueError(
            "Expected a classifier: one output of shape [batch, classes] with at least "
            f"2 classes. Received: output shapes={[tuple(t.shape) for t in flat]}"
        )


def _check_finite_outputs(model, warmup_images, image_shape, input_range):
    """Refuses a model whose outputs on the warmup images (or, without
    warmup, one mid-gray image) are not finite: served, it would answer
    every request with NaN probabilities."""
    what = "warmup images" if warmup_images is not None else "mid-gray probe images"
    if warmup_images is None:
        warmup_images = _warmup_images(True, image_shape, input_range)
    outputs = np.asarray(model(warmup_images, training=False))
    _validation.finite_outputs(
        np.all(np.isfinite(outputs), axis=-1), lambda index: outputs[index], what=what
    )


def _input_range(model, input_range):
    if input_range is None:
        regularizer = getattr(model, "regularizer", None)
        threat = getattr(regularizer, "threat_model", None)
        if threat is not None and threat.has_box:
            return threat.clip_min, threat.clip_max
        return DEFAULT_INPUT_RANGE
    return _outputs.check_range("input_range", input_range)


def _warmup_images(warmup, image_shape, input_range):
    if warmup is True:
        low, high = input_range
        return np.full((1, *image_shape), (low + high) / 2, np.float32)
    if warmup is False:
        return None
    if isinstance(warmup, (bool, numbers.Number, str)) or warmup is None:
        raise ValueError(
            "Expected `warmup` to be True, False, or a batch of images. "
            f"Received: warmup={warmup!r}"
        )
    images = np.asarray(warmup, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != image_shape or len(images) == 0:
        raise ValueError(
            f"Expected `warmup` images of shape [n, {', '.join(map(str, image_shape))}] with "
            f"n >= 1. Received: warmup.shape={images.shape}"
        )
    low, high = input_range
    if not np.all(np.isfinite(images)) or images.min() < low or images.max() > high:
        raise ValueError(
            f"Expected `warmup` images with finite values in the input range [{low}, {high}]. "
            f"Received: min={images.min()}, max={images.max()}"
        )
    return images

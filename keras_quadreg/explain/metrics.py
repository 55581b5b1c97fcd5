"""Metrics that turn "more human-interpretable" into numbers.

- `foreground_fraction`: share of a map's mass on the object, for MNIST-like
  images whose object is the ink (`foreground_mask`).
- `deletion_curve` / `insertion_curve` and their areas (Petsiuk et al. 2018,
  RISE): the class probability as the most salient pixels are removed from
  the image (lower area is better) or added to a blank one (higher is better).
- `counterfactual_transfer`: of the targeted counterfactuals that reached
  their target on the explained model, the share an independently trained
  model classifies as the target; a proxy for "a person would see the
  target too". With the radius searched (the default of
  `kq.explain.counterfactuals`), each counterfactual is the smallest change
  that made its target likely, so models are compared at the change each
  needs rather than at one radius that suits only one of them.

Maps are ranked and weighed by magnitude, `|saliency|`.
"""

import numpy as np

from keras_quadreg import _validation
from keras_quadreg.explain import _classifier


def _check_maps(saliency, shape, name="saliency"):
    array = np.asarray(saliency, dtype=np.float64)
    if array.shape != tuple(shape):
        raise ValueError(
            f"Expected `{name}` to have one map per image, shape {tuple(shape)}. "
            f"Received: {name}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Expected `{name}` to be finite. Received: {name} with NaN or Inf values")
    return array


def foreground_mask(images, *, threshold=0.1, value_range=(0.0, 1.0)):
    """The object's pixels: any channel above `low + threshold * (high - low)`.

    On MNIST-like images (a bright object on a dark background) these are the
    pixels with ink.

    Example:

    ```python
    mask = kq.explain.metrics.foreground_mask(x_test[:8])     # (8, 28, 28) bool
    ```

    Args:
        images: Images `(n, height, width, channels)`.
        threshold: Share of the value range above `low` that counts as
            object, in (0, 1).
        value_range: `(low, high)`, the valid input range.

    Returns:
        A boolean array `(n, height, width)`.
    """
    low, high = _classifier.check_value_range(value_range)
    threshold = _validation.positive_number("threshold", threshold)
    if threshold >= 1:
        raise ValueError(f"Expected `threshold` to be in (0, 1). Received: threshold={threshold!r}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            "Expected `images` of shape (n, height, width, channels). "
            f"Received: images.shape={images.shape}"
        )
    return (images > low + threshold * (high - low)).any(axis=-1)


def foreground_fraction(saliency, mask):
    """Share of each map's mass `|saliency|` that lies on the mask.

    A map equal to the mask scores 1; a map independent of the mask scores
    about the mask's share of pixels. A map that is zero everywhere carries
    no ranking and scores like a uniform map: the mask's share of pixels.

    Maps that multiply by the input (`gradients_inputs`, and
    `integrated_gradients` from its black baseline) are zero wherever the
    image is 0, so on MNIST-like images they score about 1 whatever the
    model: compare models on gradient maps (`vanilla`, `smoothgrad`).

    Example:

    ```python
    fractions = kq.explain.metrics.foreground_fraction(maps, foreground_mask(images))
    ```

    Args:
        saliency: Maps `(n, height, width)`.
        mask: Booleans `(n, height, width)`, True on the object.

    Returns:
        Float64 fractions in [0, 1], shape `(n,)`.
    """
    mask = np.asarray(mask)
    if mask.ndim != 3 or not (mask.dtype == bool or np.isin(mask, (0, 1)).all()):
        raise ValueError(
            "Expected `mask` to be booleans of shape (n, height, width). "
            f"Received: mask with shape={mask.shape}, dtype={mask.dtype}"
        )
    mask = mask.astype(bool)
    magnitude = np.abs(_check_maps(saliency, mask.shape))
    total = magnitude.sum(axis=(1, 2))
    on_object = (magnitude * mask).sum(axis=(1, 2))
    share = mask.mean(axis=(1, 2))
    return np.where(total > 0, on_object / np.where(total > 0, total, 1.0), share)


def area_under_curve(curves):
    """Trapezoidal area of curves sampled uniformly on [0, 1], per row."""
    curves = np.asarray(curves, dtype=np.float64)
    return ((curves[:, 1:] + curves[:, :-1]) / 2).mean(axis=1)


def perturbation_curves(
    classifier, images, saliency, targets, *, insertion, steps, baseline, batch_size
):
    """Target probabilities `(n, steps + 1)` as the most salient pixels are
    removed (`insertion=False`) or inserted into a `baseline` image."""
    count, height, width, _ = images.shape
    pixels = height * width
    counts = np.round(np.linspace(0, pixels, steps + 1)).astype(np.int64)
    magnitude = np.abs(saliency).reshape(count, pixels)
    curves = []
    for start in range(0, count, batch_size):
        x = images[start : start + batch_size]
        b = len(x)
        order = np.argsort(-magnitude[start : start + b], axis=1, kind="stable")
        rank = np.empty_like(order)
        rank[np.arange(b)[:, None], order] = np.arange(pixels)
        chosen = (rank[:, None, :] < counts[None, :, None]).reshape(b, steps + 1, height, width, 1)
        keep_image = chosen if insertion else ~chosen
        variants = np.where(keep_image, x[:, None], np.float32(baseline)).astype(np.float32)
        probabilities = classifier.probabilities(
            variants.reshape(-1, *x.shape[1:]), batch_size * (steps + 1)
        )
        t = np.repeat(targets[start : start + b], steps + 1)
        curves.append(probabilities[np.arange(len(t)), t].reshape(b, steps + 1))
    return np.concatenate(curves)


def _curves(model, images, saliency, classes, steps, baseline, value_range, batch_size, insertion):
    classifier = _classifier.explainer_view(model)
    value_range = _classifier.check_value_range(value_range)
    images = _classifier.check_images(images, classifier, value_range)
    saliency = _check_maps(saliency, images.shape[:3])
    targets = _classifier.check_classes(classes, len(images), classifier.num_classes)
    steps = _validation.integer("steps", steps, minimum=1)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    baseline = value_range[0] if baseline is None else baseline
    if not (value_range[0] <= baseline <= value_range[1]):
        raise ValueError(
            f"Expected `baseline` to lie in value_range={value_range}. Received: "
            f"baseline={baseline!r}"
        )
    return perturbation_curves(
        classifier,
        images,
        saliency,
        targets,
        insertion=insertion,
        steps=steps,
        baseline=baseline,
        batch_size=batch_size,
    )


def deletion_curve(
    model,
    images,
    saliency,
    classes,
    *,
    steps=16,
    baseline=None,
    value_range=(0.0, 1.0),
    batch_size=32,
):
    """Probability of each image's class as its most salient pixels are deleted.

    At step `j` of `steps`, the `round(j / steps * pixels)` pixels of largest
    `|saliency|` (ties: raster order) are set to `baseline`.

    Example:

    ```python
    curves = kq.explain.metrics.deletion_curve(model, images, maps, labels)   # (n, 17)
    ```

    Args:
        model: A functional or Sequential Keras classifier.
        images: Images `(n, height, width, channels)` in `value_range`.
        saliency: Maps `(n, height, width)`.
        classes: Class per image (an int, or `(n,)` ints).
        steps: Number of deletion steps.
        baseline: Value of deleted pixels; defaults to `value_range[0]`.
        value_range: `(low, high)`, the valid input range.
        batch_size: Images whose curves are computed together.

    Returns:
        Probabilities `(n, steps + 1)`, from the intact image to the baseline.
    """
    return _curves(
        model, images, saliency, classes, steps, baseline, value_range, batch_size, False
    )


def insertion_curve(model, images, saliency, classes, **kwargs):
    """Probability of each image's class as its most salient pixels are
    inserted into a `baseline` image; the mirror of `deletion_curve`.

    Args:
        model, images, saliency, classes: As for `deletion_curve`.
        **kwargs: `steps`, `baseline`, `value_range` and `batch_size`, as
            for `deletion_curve`, with its defaults.

    Returns:
        Probabilities `(n, steps + 1)`, from the baseline to the intact image.
    """
    options = _validation.options(
        kwargs, deletion_curve.__kwdefaults__, "an option of deletion_curve"
    )
    return _curves(model, images, saliency, classes, insertion=True, **options)


def deletion_auc(model, images, saliency, classes, **kwargs):
    """Area under `deletion_curve` per image (lower: the map found the
    pixels the class depends on). Same arguments as `deletion_curve`."""
    return area_under_curve(deletion_curve(model, images, saliency, classes, **kwargs))


def insertion_auc(model, images, saliency, classes, **kwargs):
    """Area under `insertion_curve` per image (higher is better). Same
    arguments as `insertion_curve`."""
    return area_under_curve(insertion_curve(model, images, saliency, classes, **kwargs))


def counterfactual_transfer(reference_model, counterfactuals, *, batch_size=64):
    """Share of successful counterfactuals that `reference_model` also
    classifies as their target.

    Among the counterfactuals that reached their target on the explained
    model (`counterfactuals.success`: within the cap at the searched
    probability, or classified as the target for a fixed radius), the share
    the reference classifies as the target. With a reference trained independently (another seed, no
    shared weights), counterfactuals that only exploit the explained model's
    quirks do not transfer; ones that draw the target class do. Read it with
    `counterfactuals.success_rate`: their product is the share of all
    counterfactuals both models classify as the target.

    Example:

    ```python
    cf = kq.explain.counterfactuals(robust_model, images, "others")   # radius searched
    share = kq.explain.metrics.counterfactual_transfer(standard_model, cf)
    ```

    Args:
        reference_model: An independently trained Keras classifier with the
            same inputs and classes.
        counterfactuals: A `kq.explain.Counterfactuals`.
        batch_size: Images classified together.

    Returns:
        A float in [0, 1], or None when no counterfactual reached its target
        (the share is undefined).
    """
    classifier = _classifier.explainer_view(reference_model)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    images = counterfactuals.images
    _classifier.check_images(
        images.reshape(-1, *images.shape[2:]),
        classifier,
        counterfactuals.value_range,
        name="counterfactuals.images",
    )
    if classifier.num_classes <= counterfactuals.targets.max():
        raise ValueError(
            "Expected `reference_model` to have the classes of the counterfactuals' targets. "
            f"Received: {classifier.num_classes} classes, target {counterfactuals.targets.max()}"
        )
    return transfer(classifier, counterfactuals, batch_size)


def transfer(classifier, counterfactuals, batch_size):
    """`counterfactual_transfer` for a checked reference `ExplainerView`."""
    success = counterfactuals.success.reshape(-1)
    if not success.any():
        return None
    images = counterfactuals.images.reshape(-1, *counterfactuals.images.shape[2:])[success]
    predictions = classifier.probabilities(images, batch_size).argmax(axis=1)
    return float(np.mean(predictions == counterfactuals.targets.reshape(-1)[success]))

"""Robust-feature explanations: large-budget targeted perturbations.

A robust model's input gradients point toward features people see, so
following them far, toward a chosen class, draws what the model looks for
(Santurkar et al. 2019, "Image synthesis with a single robust classifier"):

- `counterfactuals` perturbs each image toward target classes within a
  threat ball, answering "what would make this a 7?";
- `class_visualizations` grows every class from one start image (noise or
  the mean image).

Both run targeted projected gradient descent (`kq.ops.pgd` on the negated
cross-entropy of the target class) from the start image, inside the ball and
the valid input range.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_quadreg import _validation, ops
from keras_quadreg.explain import _classifier, _plotting

TARGET_CHOICES = ("all", "others", "runner_up")


def _targeted_pgd(classifier, starts, targets, threat, *, steps, step_size, batch_size):
    """Minimizes the cross-entropy of `targets` from `starts` within `threat`."""

    def build():
        @tf.function(input_signature=[classifier.input_spec, tf.TensorSpec((None,), tf.int64)])
        def attack(x, t):
            def loss_fn(z):
                return -classifier.cross_entropy(t, z)

            return ops.pgd(loss_fn, x, threat, steps=steps, step_size=step_size)

        return attack

    key = ("targeted_pgd", repr(threat), steps, step_size)
    attack = classifier.function(key, build)
    chunks = [
        attack(
            tf.constant(starts[i : i + batch_size], tf.float32),
            tf.constant(targets[i : i + batch_size], tf.int64),
        ).numpy()
        for i in range(0, len(starts), batch_size)
    ]
    return np.concatenate(chunks)


def _distances(perturbations, norm):
    flat = perturbations.reshape(len(perturbations), -1)
    if norm == "inf":
        return np.abs(flat).max(axis=1)
    return np.linalg.norm(flat, axis=1)


def attack_settings(epsilon, norm, steps, step_size, value_range, prefix=""):
    """Checked `(threat model, steps, step size)` of a targeted attack; errors
    name the arguments `prefix + "epsilon"`, and so on."""
    norm = _validation.norm(norm, name=f"{prefix}norm")
    steps = _validation.integer(f"{prefix}steps", steps, minimum=1)
    epsilon = _validation.positive_number(f"{prefix}epsilon", epsilon)
    threat = ops.threat_model(norm, epsilon, *value_range)
    # Madry et al.'s rule: the steps together can cross the ball 2.5 times.
    step_size = 2.5 * threat.epsilon / steps if step_size is None else step_size
    step_size = _validation.positive_number("step_size", step_size)
    return threat, steps, step_size


def check_target_classes(target_classes, count, num_classes, name="target_classes"):
    """Validates `target_classes` (the argument `name`): a choice from
    `TARGET_CHOICES`, returned as is, or class indices, returned as an int64
    array `(count, k)`."""
    if isinstance(target_classes, str):
        return _validation.choice(name, target_classes, TARGET_CHOICES)
    array = np.asarray(target_classes)
    if array.ndim == 0:
        array = np.full((count, 1), array)
    elif array.ndim == 1 and len(array) == count:
        array = array[:, None]
    if array.ndim != 2 or len(array) != count or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"Expected `{name}` to be one of {list(TARGET_CHOICES)}, a class "
            f"index, or class indices of shape ({count},) or ({count}, k). "
            f"Received: {name}={_classifier.describe(target_classes)}"
        )
    if array.min() < 0 or array.max() >= num_classes:
        raise ValueError(
            f"Expected `{name}` to be class indices in [0, {num_classes}). "
            f"Received: {name} with min={array.min()}, max={array.max()}"
        )
    return array.astype(np.int64)


def resolve_targets(target_classes, probabilities):
    """Target classes `(n, k)` from checked `target_classes` and the model's
    probabilities `(n, classes)` on the images."""
    if not isinstance(target_classes, str):
        return target_classes
    count, num_classes = probabilities.shape
    every = np.tile(np.arange(num_classes), (count, 1))
    if target_classes == "all":
        return every
    ranked = np.argsort(-probabilities, axis=1, kind="stable")
    if target_classes == "runner_up":
        return ranked[:, 1:2]
    return every[every != ranked[:, :1]].reshape(count, num_classes - 1)


@dataclasses.dataclass(frozen=True, eq=False)
class Counterfactuals:
    """Targeted counterfactuals of a batch of images.

    Attributes:
        originals: The images, `(n, height, width, channels)`.
        images: Counterfactual images, `(n, k, height, width, channels)`:
            `images[i, j]` is `originals[i]` pushed toward `targets[i, j]`.
        targets: Target classes, int64 `(n, k)`.
        predictions: The model's class on each counterfactual, `(n, k)`.
        target_probabilities: The model's probability of the target, `(n, k)`.
        distances: `||images[i, j] - originals[i]||` in `norm`, `(n, k)`.
        epsilon: Radius of the perturbation ball.
        norm: `"inf"` or `2`.
        value_range: The valid input range.
    """

    originals: np.ndarray
    images: np.ndarray
    targets: np.ndarray
    predictions: np.ndarray
    target_probabilities: np.ndarray
    distances: np.ndarray
    epsilon: float
    norm: object
    value_range: tuple

    @property
    def success(self):
        """Whether the model classifies each counterfactual as its target."""
        return self.predictions == self.targets

    @property
    def success_rate(self):
        """Share of counterfactuals the model classifies as their target."""
        return float(np.mean(self.success))

    def plot(self, max_images=16):
        """Rows = images, columns = the original and each target.

        Args:
            max_images: Rows shown, from the first image.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        max_images = _validation.integer("max_images", max_images, minimum=1)
        rows = []
        for i in range(min(len(self.originals), max_images)):
            row = [_plotting.image_cell(self.originals[i], self.value_range, "original")]
            for j, target in enumerate(self.targets[i]):
                title = f"→{target}: p={self.target_probabilities[i, j]:.2f}"
                row.append(_plotting.image_cell(self.images[i, j], self.value_range, title))
            rows.append(row)
        return _plotting.render(
            rows,
            title="Counterfactuals: each image pushed toward each target class",
            caption=self.caption(),
        )

    def caption(self):
        """What the figures' `→c: p` labels mean, in a sentence.

        Returns:
            A string naming the ball the counterfactuals were searched in.
        """
        norm = "l_inf" if self.norm == "inf" else "l_2"
        return (
            f"Counterfactual '→c: p': the input changed within an {norm} ball of radius "
            f"{self.epsilon:g} to raise class c; p is the model's probability of c there."
        )

    def save(self, path, dpi=100):
        """Saves `plot()` to `path` (PNG, PDF, ... from the suffix)."""
        return _plotting.save(self.plot(), path, dpi)


def compute_counterfactuals(
    classifier, images, targets, *, threat, steps, step_size, value_range, batch_size
):
    """`Counterfactuals` for checked images and resolved targets `(n, k)`."""
    count, k = targets.shape
    starts = np.repeat(images, k, axis=0)
    flat_targets = targets.reshape(-1)
    adversarial = _targeted_pgd(
        classifier,
        starts,
        flat_targets,
        threat,
        steps=steps,
        step_size=step_size,
        batch_size=batch_size,
    )
    probabilities = classifier.probabilities(adversarial, batch_size)
    shape = (count, k)
    return Counterfactuals(
        originals=images,
        images=adversarial.reshape(count, k, *images.shape[1:]),
        targets=targets,
        predictions=probabilities.argmax(axis=1).reshape(shape),
        target_probabilities=probabilities[np.arange(len(flat_targets)), flat_targets].reshape(
            shape
        ),
        distances=_distances(adversarial - starts, threat.norm).reshape(shape).astype(np.float32),
        epsilon=threat.epsilon,
        norm=threat.norm,
        value_range=value_range,
    )


def counterfactuals(
    model,
    images,
    target_classes="all",
    *,
    epsilon=2.0,
    norm=2,
    steps=50,
    step_size=None,
    value_range=(0.0, 1.0),
    batch_size=64,
):
    """Targeted counterfactuals: each image pushed toward target classes.

    Deterministic: the descent starts from the image itself.

    Example:

    ```python
    cf = kq.explain.counterfactuals(model, x_test[:8], target_classes="all", epsilon=2.0, norm=2)
    cf.images.shape        # (8, 10, 28, 28, 1)
    cf.success_rate        # share classified as their target
    cf.save("counterfactuals.png")
    ```

    Args:
        model: A functional or Sequential Keras classifier.
        images: Images `(n, height, width, channels)` in `value_range`.
        target_classes: `"all"` (every class), `"others"` (every class but
            the predicted one), `"runner_up"` (the second most likely class),
            a class index, or class indices `(n,)` or `(n, k)`.
        epsilon: Radius of the perturbation ball.
        norm: `2` or `"inf"`.
        steps: Gradient steps.
        step_size: Length of each step, absolute, in input units and the
            threat model's norm; defaults to `2.5 * epsilon / steps`.
        value_range: `(low, high)`, the valid input range.
        batch_size: Perturbations computed together.

    Returns:
        A `Counterfactuals`.
    """
    classifier = _classifier.explainer_view(model)
    value_range = _classifier.check_value_range(value_range)
    images = _classifier.check_images(images, classifier, value_range)
    threat, steps, step_size = attack_settings(epsilon, norm, steps, step_size, value_range)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    targets = check_target_classes(target_classes, len(images), classifier.num_classes)
    targets = resolve_targets(targets, classifier.probabilities(images, batch_size))
    return compute_counterfactuals(
        classifier,
        images,
        targets,
        threat=threat,
        steps=steps,
        step_size=step_size,
        value_range=value_range,
        batch_size=batch_size,
    )


@dataclasses.dataclass(frozen=True, eq=False)
class ClassVisualizations:
    """Images synthesized for each class from one start image.

    Attributes:
        start: The start image, `(height, width, channels)`.
        images: One image per class, `(k, height, width, channels)`.
        classes: The classes, int64 `(k,)`.
        probabilities: The model's probability of each class on its image.
        value_range: The valid input range.
    """

    start: np.ndarray
    images: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    value_range: tuple

    def plot(self):
        """One row: the start image, then each class's image."""
        row = [_plotting.image_cell(self.start, self.value_range, "start")]
        for image, cls, p in zip(self.images, self.classes, self.probabilities):
            row.append(_plotting.image_cell(image, self.value_range, f"{cls}: p={p:.2f}"))
        return _plotting.render([row])

    def save(self, path, dpi=100):
        """Saves `plot()` to `path`."""
        return _plotting.save(self.plot(), path, dpi)


START_CHOICES = ("noise", "mean")


def _start_image(start, images, classifier, value_range, seed):
    low, high = value_range
    if isinstance(start, str):
        _validation.choice("start", start, START_CHOICES)
        if start == "noise":
            rng = np.random.default_rng(seed)
            return rng.uniform(low, high, classifier.input_shape).astype(np.float32)
        if images is None:
            raise ValueError(
                'Expected `images` to average when start="mean". Received: images=None'
            )
        return _classifier.check_images(images, classifier, value_range).mean(axis=0)
    return _classifier.check_images(np.asarray(start)[None], classifier, value_range, name="start")[
        0
    ]


def class_visualizations(
    model,
    classes="all",
    start="noise",
    *,
    images=None,
    epsilon=10.0,
    norm=2,
    steps=200,
    step_size=None,
    value_range=(0.0, 1.0),
    seed=0,
    batch_size=64,
):
    """What the model draws for each class, grown from one start image.

    Each class's image maximizes the class's log-probability within the
    `epsilon`-ball around the start. Robust models draw recognizable classes;
    standard models add noise-like patterns.

    Example:

    ```python
    vis = kq.explain.class_visualizations(robust_model, start="mean", images=x_train[:1000])
    vis.save("classes.png")
    ```

    Args:
        model: A functional or Sequential Keras classifier.
        classes: `"all"`, a class index, or a sequence of class indices.
        start: `"noise"` (uniform noise in `value_range`, from `seed`),
            `"mean"` (the mean of `images`), or an image.
        images: Images to average for `start="mean"`.
        epsilon: Radius of the ball around the start.
        norm: `2` or `"inf"`.
        steps: Gradient steps.
        step_size: Length of each step, absolute, in input units and the
            threat model's norm; defaults to `2.5 * epsilon / steps`.
        value_range: `(low, high)`, the valid input range.
        seed: Integer seed of the noise start.
        batch_size: Images computed together.

    Returns:
        A `ClassVisualizations`.
    """
    classifier = _classifier.explainer_view(model)
    value_range = _classifier.check_value_range(value_range)
    seed = _validation.integer("seed", seed)
    threat, steps, step_size = attack_settings(epsilon, norm, steps, step_size, value_range)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    start_image = _start_image(start, images, classifier, value_range, seed)
    if isinstance(classes, str):
        _validation.choice("classes", classes, ("all",))
        classes = np.arange(classifier.num_classes)
    elif isinstance(classes, (int, np.integer)):
        classes = [classes]
    classes = _classifier.check_classes(
        classes, len(np.atleast_1d(classes)), classifier.num_classes
    )
    starts = np.repeat(start_image[None], len(classes), axis=0)
    synthesized = _targeted_pgd(
        classifier, starts, classes, threat, steps=steps, step_size=step_size, batch_size=batch_size
    )
    probabilities = classifier.probabilities(synthesized, batch_size)
    return ClassVisualizations(
        start=start_image,
        images=synthesized,
        classes=classes,
        probabilities=probabilities[np.arange(len(classes)), classes],
        value_range=value_range,
    )

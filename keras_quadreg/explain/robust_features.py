"""Robust-feature explanations: large-budget targeted perturbations.

A robust model's input gradients point toward features people see, so
following them far, toward a chosen class, draws what the model looks for
(Santurkar et al. 2019, "Image synthesis with a single robust classifier"):

- `counterfactuals` perturbs each image toward target classes, answering
  "what would make this a 7?", and how much it must change to become one;
- `class_visualizations` grows every class from one start image (noise or
  the mean image).

Both run targeted projected gradient descent on the log-probability of the
target class from the start image, inside a norm ball and the valid input
range. By default they search each image's radius: the smallest ball in
which the target reaches a chosen probability, up to a cap. A robust model
resists small changes, so no one radius suits both a robust and a standard
model: the radius each needs is the measurement.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_quadreg import _batch, _validation, ops
from keras_quadreg.explain import _classifier, _plotting

TARGET_CHOICES = ("all", "others", "runner_up")
SEARCH = "search"
# The search tries the cap, then halves the radius at most this many times
# before it bisects, so radii down to cap / 64 are bracketed within a factor 2.
HALVINGS = 6
# Default caps of the radius search, as a multiple of the input range's width.
# l_inf: the whole box, every image is within reach. l_2: far above what the
# robust default models need on held-out training images at the default
# settings (upper quartiles 5.0 on MNIST, 3.5 on Fashion-MNIST; docs/results.md,
# "Counterfactuals that find their radius"); a high cap costs only the halvings
# down from it.
DEFAULT_MAX_EPSILON = {2: 16.0, "inf": 1.0}
# The search's attack takes each gradient at a noisy copy of its iterate, the
# noise this fraction of the radius tried at the first step and shrinking
# linearly to none at the last: l_inf-robust MNIST models zero small changes
# of dark pixels (a thresholding first layer), so the gradient at the image
# itself cannot say which strokes to add. Chosen on the last 1,000 training
# images, robust default models (docs/results.md, "Counterfactuals that find
# their radius").
DEFAULT_GRADIENT_NOISE = 1.0
# The options of a counterfactual's radius search or fixed-radius attack and
# their defaults, which `counterfactuals`, `compare_counterfactuals`,
# `class_visualizations`, `kq.explain` and `kq.explain.compare` take as
# `**counterfactual_options` and `counterfactual_settings` checks.
COUNTERFACTUAL_OPTIONS = {
    "epsilon": SEARCH,
    "norm": 2,
    "max_epsilon": None,
    "probability": 0.5,
    "steps": 20,
    "search_steps": 4,
    "gradient_noise": DEFAULT_GRADIENT_NOISE,
}


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


def _radius_attack(classifier, search, value_range):
    """Targeted PGD toward `t` within per-example radii `r`; each example
    stops at its first iterate where the target's probability reaches `q`,
    and the batch stops when every example has. Each gradient is taken at
    the iterate plus noise (a Gaussian direction for l_2, uniform in the
    cube for l_inf) of `search.gradient_noise` times the radius at the first
    step, shrinking linearly to 0 at step `steps`, drawn from `search.seed`
    and the step; the iterates themselves carry no noise."""
    low, high = value_range
    norm, steps, noise_scale = search.norm, search.steps, search.gradient_noise

    def build():
        @tf.function(
            input_signature=[
                classifier.input_spec,
                tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((None,), tf.float32),
                tf.TensorSpec((), tf.float32),
            ]
        )
        def attack(x, t, r, q):
            radius = _batch.broadcast(r, x)
            # Madry et al.'s rule: the steps together can cross the ball 2.5 times.
            step_size = 2.5 * radius / steps

            def project(z):
                delta = z - x
                if norm == "inf":
                    delta = tf.clip_by_value(delta, -radius, radius)
                else:
                    length = _batch.broadcast(_batch.l2_norm(delta), delta)
                    delta *= tf.minimum(1.0, tf.math.divide_no_nan(radius, length))
                return tf.clip_by_value(x + delta, low, high)

            def log_probability(z):
                return tf.gather(tf.nn.log_softmax(classifier.scores(z)), t, batch_dims=1)

            def noise(i):
                seed = tf.stack([tf.constant(search.seed, tf.int32), i])
                if norm == "inf":
                    return tf.random.stateless_uniform(tf.shape(x), seed, -1.0, 1.0)
                return _batch.safe_unit(tf.random.stateless_normal(tf.shape(x), seed))

            def body(i, z, done):
                # Explore first, then refine: the noise shrinks to none.
                shrink = 1.0 - tf.cast(i, tf.float32) / steps
                noisy = z + noise_scale * shrink * radius * noise(i) if noise_scale else z
                with tf.GradientTape() as tape:
                    tape.watch(noisy)
                    log_p = log_probability(noisy)
                gradient = tape.gradient(log_p, noisy)
                log_p = log_probability(z) if noise_scale else log_p
                done = done | (tf.exp(log_p) >= q)
                direction = tf.sign(gradient) if norm == "inf" else _batch.safe_unit(gradient)
                moved = project(z + step_size * direction)
                return i + 1, tf.where(_batch.broadcast(done, z), z, moved), done

            _, z, _ = tf.while_loop(
                lambda i, z, done: (i < steps) & ~tf.reduce_all(done),
                body,
                (tf.constant(0), x, tf.zeros(tf.shape(x)[:1], tf.bool)),
            )
            return z

        return attack

    return classifier.function(("radius_attack", search, value_range), build)


@dataclasses.dataclass(frozen=True)
class RadiusSearch:
    """Checked settings of the radius search (see `counterfactuals`)."""

    norm: object
    max_epsilon: float
    probability: float
    steps: int
    search_steps: int
    gradient_noise: float
    seed: int


def check_epsilon(epsilon, name="epsilon"):
    """`"search"`, returned as is, or a radius, returned as a float."""
    if isinstance(epsilon, str):
        return _validation.choice(name, epsilon, (SEARCH,))
    return _validation.positive_number(name, epsilon)


def search_radii(classifier, starts, targets, search, *, value_range, batch_size):
    """The smallest radius found at which each target reaches `search.probability`.

    A target the image already reaches has radius 0. For the others, tries
    the cap first; a target it does not reach is out of reach. Then
    halves the radius while the target is still reached (at most `HALVINGS`
    times), and bisects the last bracket `search.search_steps` times. Each
    radius tried is one targeted attack of `search.steps` steps from the image.

    Returns:
        `(images, radii)`: the counterfactual at the smallest radius that
        reached its target (at the cap when none did), and that radius (inf
        when the cap did not reach the target).
    """
    attack = _radius_attack(classifier, search, value_range)
    count = len(starts)
    images = starts.copy()
    high = np.full(count, np.inf)  # the smallest radius that reached the target
    low = np.zeros(count)  # the largest radius that did not
    radius = np.full(count, search.max_epsilon)
    halvings = np.zeros(count, np.int64)
    bisections = np.zeros(count, np.int64)
    halving = np.ones(count, bool)
    # A target the image already reaches needs no change.
    p = classifier.probabilities(starts, batch_size)[np.arange(count), targets]
    active = p < search.probability
    high[~active] = 0.0
    q = tf.constant(search.probability, tf.float32)
    while active.any():
        index = np.flatnonzero(active)
        found = np.concatenate(
            [
                attack(
                    tf.constant(starts[chunk], tf.float32),
                    tf.constant(targets[chunk], tf.int64),
                    tf.constant(radius[chunk], tf.float32),
                    q,
                ).numpy()
                for chunk in np.array_split(index, -(-len(index) // batch_size))
            ]
        )
        p = classifier.probabilities(found, batch_size)[np.arange(len(index)), targets[index]]
        reached = p >= search.probability
        hit, miss = index[reached], index[~reached]
        high[hit], images[hit] = radius[hit], found[reached]
        low[miss] = radius[miss]
        out_of_reach = ~reached & ~np.isfinite(high[index])
        images[index[out_of_reach]] = found[out_of_reach]
        bisections[index[~halving[index]]] += 1
        keep_halving = halving[index] & reached & (halvings[index] < HALVINGS)
        halving[index] = keep_halving
        halvings[index[keep_halving]] += 1
        radius[index] = np.where(keep_halving, high[index] / 2, (low[index] + high[index]) / 2)
        active[index] = np.isfinite(high[index]) & (
            keep_halving | (bisections[index] < search.search_steps)
        )
    return images, high


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
    threat = ops.threat_model(epsilon, norm, *value_range)
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
class Counterfactuals(_plotting.Plottable):
    """Targeted counterfactuals of a batch of images.

    Attributes:
        originals: The images, `(n, height, width, channels)`.
        images: Counterfactual images, `(n, k, height, width, channels)`:
            `images[i, j]` is `originals[i]` pushed toward `targets[i, j]`.
        targets: Target classes, int64 `(n, k)`.
        predictions: The model's class on each counterfactual, `(n, k)`.
        target_probabilities: The model's probability of the target, `(n, k)`.
        distances: `||images[i, j] - originals[i]||` in `norm`, `(n, k)`.
        epsilon: The fixed radius of the perturbation ball, or, when the
            radius was searched, the search's cap.
        norm: `"inf"` or `2`.
        value_range: The valid input range.
        radii: When the radius was searched, the smallest radius found at
            which each target reached `probability`, `(n, k)`; `inf` where
            the cap did not reach it. None for a fixed radius.
        probability: The target probability the search had to reach, or None
            for a fixed radius.
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
    radii: np.ndarray = None
    probability: float = None

    @property
    def searched(self):
        """Whether each counterfactual's radius was searched (not fixed)."""
        return self.radii is not None

    @property
    def success(self):
        """Whether each counterfactual reached its target: within the cap, at
        `probability` or more, when the radius was searched; classified as
        the target, for a fixed radius."""
        if self.searched:
            return np.isfinite(self.radii)
        return self.predictions == self.targets

    @property
    def success_rate(self):
        """Share of counterfactuals that reached their target (`success`)."""
        return float(np.mean(self.success))

    @property
    def median_radius(self):
        """Median of `radii`, the targets out of reach counted as beyond the
        cap: "how much must an image change to become another class".

        Returns:
            A float; `inf` when half the targets or more were out of reach;
            None for a fixed radius.
        """
        return float(np.median(self.radii)) if self.searched else None

    def cell_title(self, i, j):
        """The label of counterfactual `(i, j)` in the figures."""
        title = f"→{self.targets[i, j]}: p={self.target_probabilities[i, j]:.2f}"
        if not self.searched:
            return title
        radius = self.radii[i, j]
        reach = f"r={radius:.2g}" if np.isfinite(radius) else f"r>{self.epsilon:g}"
        return f"{title}\n{reach}"

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
            for j in range(self.targets.shape[1]):
                row.append(
                    _plotting.image_cell(self.images[i, j], self.value_range, self.cell_title(i, j))
                )
            rows.append(row)
        return _plotting.render(
            rows,
            title="Counterfactuals: each image pushed toward each target class",
            caption=self.caption(),
        )

    def caption(self):
        """What the figures' counterfactual labels mean, in a sentence or two.

        Returns:
            A string naming the ball the counterfactuals were searched in.
        """
        norm = "l_inf" if self.norm == "inf" else "l_2"
        if not self.searched:
            return (
                f"Counterfactual '→c: p': the input changed within an {norm} ball of radius "
                f"{self.epsilon:g} to raise class c; p is the model's probability of c there."
            )
        return (
            f"Counterfactual '→c: p, r': the smallest {norm} change found, of radius r, that "
            f"raises class c to probability {self.probability:g} or more; p is the probability "
            f"of c there. 'r>{self.epsilon:g}': out of reach within the cap {self.epsilon:g}, "
            "the image shown is the change at the cap."
        )


def compute_counterfactuals(
    classifier, images, targets, *, attack, value_range, batch_size, search=None
):
    """`Counterfactuals` for checked images and resolved targets `(n, k)`.

    Args:
        attack: `(threat, steps, step_size)` of a fixed radius, from
            `attack_settings`, or None with a `search`.
        search: A `RadiusSearch`, or None for a fixed radius.
    """
    count, k = targets.shape
    starts = np.repeat(images, k, axis=0)
    flat_targets = targets.reshape(-1)
    radii = None
    if search is None:
        threat, steps, step_size = attack
        norm, epsilon = threat.norm, threat.epsilon
        found = _targeted_pgd(
            classifier,
            starts,
            flat_targets,
            threat,
            steps=steps,
            step_size=step_size,
            batch_size=batch_size,
        )
    else:
        norm, epsilon = search.norm, search.max_epsilon
        found, radii = search_radii(
            classifier,
            starts,
            flat_targets,
            search,
            value_range=value_range,
            batch_size=batch_size,
        )
        radii = radii.reshape(count, k).astype(np.float32)
    probabilities = classifier.probabilities(found, batch_size)
    shape = (count, k)
    return Counterfactuals(
        originals=images,
        images=found.reshape(count, k, *images.shape[1:]),
        targets=targets,
        predictions=probabilities.argmax(axis=1).reshape(shape),
        target_probabilities=probabilities[np.arange(len(flat_targets)), flat_targets].reshape(
            shape
        ),
        distances=_distances(found - starts, norm).reshape(shape).astype(np.float32),
        epsilon=epsilon,
        norm=norm,
        value_range=value_range,
        radii=radii,
        probability=None if search is None else search.probability,
    )


def counterfactual_settings(value_range, seed, options, *, step_size=None, prefix=""):
    """Checked `(attack, search)` for `compute_counterfactuals`: a fixed
    radius's attack and no search, or no attack and a `RadiusSearch`;
    `options`: a caller's `**counterfactual_options`, `COUNTERFACTUAL_OPTIONS`
    by name (the defaults fill the others); errors name the arguments
    `prefix + "epsilon"`, and so on."""
    options = _validation.options(options, COUNTERFACTUAL_OPTIONS, "a counterfactual option")
    epsilon, norm, steps = options["epsilon"], options["norm"], options["steps"]
    epsilon = check_epsilon(epsilon, name=f"{prefix}epsilon")
    if epsilon != SEARCH:
        return attack_settings(epsilon, norm, steps, step_size, value_range, prefix), None
    if step_size is not None:
        raise ValueError(
            f"Expected `step_size=None` when `{prefix}epsilon` is {SEARCH!r}: each radius tried "
            f"takes steps of 2.5 * radius / steps. Received: step_size={step_size!r}"
        )
    norm = _validation.norm(norm, name=f"{prefix}norm")
    max_epsilon, probability = options["max_epsilon"], options["probability"]
    if max_epsilon is None:
        max_epsilon = DEFAULT_MAX_EPSILON[norm] * (value_range[1] - value_range[0])
    max_epsilon = _validation.positive_number(f"{prefix}max_epsilon", max_epsilon)
    probability = _validation.positive_number(f"{prefix}probability", probability)
    if probability >= 1:
        raise ValueError(
            f"Expected `{prefix}probability` to be in (0, 1). "
            f"Received: {prefix}probability={probability!r}"
        )
    steps = _validation.integer(f"{prefix}steps", steps, minimum=1)
    search_steps = _validation.integer(f"{prefix}search_steps", options["search_steps"], minimum=0)
    gradient_noise = _validation.non_negative_number(
        f"{prefix}gradient_noise", options["gradient_noise"]
    )
    seed = _validation.integer("seed", seed)
    return None, RadiusSearch(
        norm, max_epsilon, probability, steps, search_steps, gradient_noise, seed
    )


def counterfactuals(
    model,
    images,
    target_classes="all",
    *,
    step_size=None,
    value_range=(0.0, 1.0),
    batch_size=64,
    seed=0,
    **counterfactual_options,
):
    """Targeted counterfactuals: each image pushed toward target classes.

    By default (`epsilon="search"`) each counterfactual finds its radius: the
    smallest ball, up to `max_epsilon`, in which the model gives the target
    `probability` or more (0 for a target the image already reaches). The
    search tries the cap first (a target it does
    not reach is out of reach: `radii` is `inf`, `success` False), halves the
    radius while the target is reached (at most 6 times), then bisects
    `search_steps` times: the radius found is within a factor
    `1 + 2 ** -search_steps` of the smallest one the attack can find, or
    within `max_epsilon * 2 ** -(6 + search_steps)` of it below
    `max_epsilon / 64`. Each radius tried is a targeted attack of `steps`
    steps that stops as soon as the target reaches `probability`; it starts
    from the image and takes each gradient at its iterate plus noise of
    `gradient_noise` times the radius at the first step, shrinking linearly
    to none, so that a model which ignores small changes of dark pixels (as
    l_inf-robust MNIST models do) still shows which strokes to add. The
    counterfactuals carry no noise. A number as
    `epsilon` is a fixed radius instead: targeted PGD from the image,
    without noise.

    Deterministic: the noise is drawn from `seed`.

    Example:

    ```python
    cf = kq.explain.counterfactuals(model, x_test[:8], target_classes="all")
    cf.images.shape        # (8, 10, 28, 28, 1)
    cf.success_rate        # share that reached their target within the cap
    cf.median_radius       # l_2 change the median target needs
    cf.save("counterfactuals.png")
    fixed = kq.explain.counterfactuals(model, x_test[:8], epsilon=2.0)   # a fixed radius
    ```

    Args:
        model: A functional or Sequential Keras classifier.
        images: Images `(n, height, width, channels)` in `value_range`.
        target_classes: `"all"` (every class), `"others"` (every class but
            the predicted one), `"runner_up"` (the second most likely class),
            a class index, or class indices `(n,)` or `(n, k)`.
        epsilon: `"search"` (the default), or the radius of a fixed
            perturbation ball.
        norm: `2` (the default) or `"inf"`.
        max_epsilon: Cap of the searched radius; None (the default): 16
            times the width of `value_range` for `norm=2`, the width itself
            (the whole box) for `"inf"`.
        probability: Target probability the search must reach, in (0, 1);
            default 0.5.
        steps: Gradient steps per radius tried, or of the fixed radius;
            default 20.
        search_steps: Bisections after the radius is bracketed; default 4.
        gradient_noise: Search only: the noise at which the first gradient
            is taken, as a fraction of the radius tried (l_2 length, or the
            l_inf half-width), shrinking linearly over the steps; >= 0, 0
            takes every gradient at the iterate; default 1.
        step_size: Fixed radius only: length of each step, absolute, in input
            units and the norm; defaults to `2.5 * epsilon / steps` (the
            search always uses `2.5 * radius / steps`).
        value_range: `(low, high)`, the valid input range.
        batch_size: Perturbations computed together.
        seed: Integer seed of the search's gradient noise.

    `epsilon` to `gradient_noise` arrive as `**counterfactual_options`, which
    `kq.explain`, `compare_counterfactuals` and `class_visualizations` share
    (`COUNTERFACTUAL_OPTIONS`); another name there is a `TypeError`.

    Returns:
        A `Counterfactuals`.
    """
    return _classifier.for_model(
        model,
        _counterfactuals_each,
        images,
        target_classes,
        value_range,
        batch_size,
        seed,
        step_size,
        counterfactual_options,
    )


def _counterfactuals_each(
    views, images, target_classes, value_range, batch_size, seed, step_size, options
):
    """`{name: Counterfactuals}` of each of `views` (by name) toward the
    same targets (those of the first for `"others"` and `"runner_up"`),
    every argument checked first; `options`: the counterfactual options."""
    value_range = _classifier.check_value_range(value_range)
    images = _classifier.check_images_for_all(images, views, value_range)
    attack, search = counterfactual_settings(value_range, seed, options, step_size=step_size)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    first = next(iter(views.values()))
    targets = check_target_classes(target_classes, len(images), first.num_classes)
    targets = resolve_targets(targets, first.probabilities(images, batch_size))
    return {
        name: compute_counterfactuals(
            classifier,
            images,
            targets,
            attack=attack,
            search=search,
            value_range=value_range,
            batch_size=batch_size,
        )
        for name, classifier in views.items()
    }


@dataclasses.dataclass(frozen=True, eq=False)
class CounterfactualComparison(_plotting.Plottable):
    """Counterfactuals of the same images toward the same targets, by several models.

    Attributes:
        counterfactuals: Model name -> `Counterfactuals`, in the order given.
    """

    counterfactuals: dict

    @property
    def median_radii(self):
        """Model name -> `Counterfactuals.median_radius`."""
        return {name: cf.median_radius for name, cf in self.counterfactuals.items()}

    def plot(self, max_images=8):
        """One row per image and model: the original, then each target's
        counterfactual, labelled with its probability and radius.

        Args:
            max_images: Images shown, from the first.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        max_images = _validation.integer("max_images", max_images, minimum=1)
        first = next(iter(self.counterfactuals.values()))
        rows = []
        for i in range(min(len(first.originals), max_images)):
            for name, cf in self.counterfactuals.items():
                row = [_plotting.image_cell(cf.originals[i], cf.value_range, name)]
                row += [
                    _plotting.image_cell(cf.images[i, j], cf.value_range, cf.cell_title(i, j))
                    for j in range(cf.targets.shape[1])
                ]
                rows.append(row)
        medians = ", ".join(
            f"{name} {_radius_text(cf.median_radius, cf.epsilon)}"
            for name, cf in self.counterfactuals.items()
        )
        title = "Counterfactuals: the same images and targets, each model's change"
        if first.searched:
            title += f" (median radius: {medians})"
        return _plotting.render(rows, title=title, caption=first.caption())


def _radius_text(radius, cap):
    return f"{radius:.2f}" if np.isfinite(radius) else f">{cap:g}"


def compare_counterfactuals(
    models,
    images,
    target_classes="all",
    *,
    value_range=(0.0, 1.0),
    batch_size=64,
    seed=0,
    **counterfactual_options,
):
    """Counterfactuals of several models side by side: same images, same targets.

    A standard model reaches a target with a small, noise-like change; a
    robust one needs a large change that draws the target. With the radius
    searched (the default), each cell says how large.

    Example:

    ```python
    comparison = kq.explain.compare_counterfactuals(
        {"standard": m0, "quadreg": m1}, x_test[:4])
    comparison.median_radii        # {"standard": ..., "quadreg": ...}
    comparison.save("counterfactuals_compared.png")
    ```

    Args:
        models: A dict of name -> Keras classifier with the same classes.
        images: Images `(n, height, width, channels)` in `value_range`.
        target_classes: As in `kq.explain.counterfactuals`; `"others"` and
            `"runner_up"` follow the first model's predictions, so that every
            model has the same targets.

    Other arguments are those of `kq.explain.counterfactuals`.

    Returns:
        A `CounterfactualComparison`.
    """
    views = _classifier.explainer_views(models)
    found = _counterfactuals_each(
        views, images, target_classes, value_range, batch_size, seed, None, counterfactual_options
    )
    return CounterfactualComparison(found)


@dataclasses.dataclass(frozen=True, eq=False)
class ClassVisualizations(_plotting.Plottable):
    """Images synthesized for each class from one start image.

    Attributes:
        start: The start image, `(height, width, channels)`.
        images: One image per class, `(k, height, width, channels)`.
        classes: The classes, int64 `(k,)`.
        probabilities: The model's probability of each class on its image.
        value_range: The valid input range.
        radii: When the radius was searched, the smallest radius found at
            which each class reached `probability`, `(k,)`; `inf` where the
            cap did not reach it. None for a fixed radius.
        probability: The probability the search had to reach, or None.
        epsilon: The fixed radius, or the search's cap.
        norm: `"inf"` or `2`.
    """

    start: np.ndarray
    images: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    value_range: tuple
    radii: np.ndarray = None
    probability: float = None
    epsilon: float = None
    norm: object = None

    def _title(self, k):
        title = f"{self.classes[k]}: p={self.probabilities[k]:.2f}"
        if self.radii is None:
            return title
        radius = self.radii[k]
        return f"{title}\n" + (f"r={radius:.2g}" if np.isfinite(radius) else f"r>{self.epsilon:g}")

    def plot(self):
        """One row: the start image, then each class's image."""
        row = [_plotting.image_cell(self.start, self.value_range, "start")]
        for k, image in enumerate(self.images):
            row.append(_plotting.image_cell(image, self.value_range, self._title(k)))
        caption = None
        if self.radii is not None:
            norm = "l_inf" if self.norm == "inf" else "l_2"
            caption = (
                f"'c: p, r': the smallest {norm} change of the start found, of radius r, that "
                f"raises class c to probability {self.probability:g} or more; "
                f"'r>{self.epsilon:g}': out of reach within the cap."
            )
        return _plotting.render([row], caption=caption)


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


# Where `class_visualizations`' defaults differ from `COUNTERFACTUAL_OPTIONS`.
_VISUALIZATION_OPTIONS = {"max_epsilon": 10.0, "probability": 0.9, "steps": 50}


def class_visualizations(
    model,
    classes="all",
    start="noise",
    *,
    images=None,
    step_size=None,
    value_range=(0.0, 1.0),
    seed=0,
    batch_size=64,
    **counterfactual_options,
):
    """What the model draws for each class, grown from one start image.

    Each class's image raises the class's log-probability within a ball
    around the start: by default (`epsilon="search"`) the smallest ball, up
    to `max_epsilon`, in which the class reaches `probability`, found as in
    `kq.explain.counterfactuals`, and `radii` says how large it was; or a
    fixed ball of radius `epsilon`. Robust models draw recognizable classes,
    and need larger changes; standard models add noise-like patterns.

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
        epsilon: `"search"` (the default), or the radius of a fixed ball
            around the start.
        norm: `2` (the default) or `"inf"`.
        max_epsilon: Cap of the searched radius; default 10.
        probability: Class probability the search must reach, in (0, 1);
            default 0.9.
        steps: Gradient steps per radius tried, or of the fixed radius;
            default 50.
        search_steps: Bisections of the radius search; default 4.
        gradient_noise: Search only: noise of each gradient, as a fraction
            of the radius tried (see `kq.explain.counterfactuals`); default 1.
        step_size: Fixed radius only: length of each step, absolute, in
            input units and the norm; defaults to `2.5 * epsilon / steps`.
        value_range: `(low, high)`, the valid input range.
        seed: Integer seed of the noise start and of the gradient noise.
        batch_size: Images computed together.

    `epsilon` to `gradient_noise` arrive as `**counterfactual_options`, as
    for `kq.explain.counterfactuals`, whose defaults they share but for
    `_VISUALIZATION_OPTIONS`.

    Returns:
        A `ClassVisualizations`.
    """
    classifier = _classifier.explainer_view(model)
    value_range = _classifier.check_value_range(value_range)
    seed = _validation.integer("seed", seed)
    options = {**_VISUALIZATION_OPTIONS, **counterfactual_options}
    attack, search = counterfactual_settings(value_range, seed, options, step_size=step_size)
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
    found = compute_counterfactuals(
        classifier,
        start_image[None],
        classes[None],
        attack=attack,
        search=search,
        value_range=value_range,
        batch_size=batch_size,
    )
    return ClassVisualizations(
        start=start_image,
        images=found.images[0],
        classes=classes,
        probabilities=found.target_probabilities[0],
        value_range=value_range,
        radii=None if found.radii is None else found.radii[0],
        probability=found.probability,
        epsilon=found.epsilon,
        norm=found.norm,
    )

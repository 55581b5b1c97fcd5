"""Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial
robustness with an ensemble of diverse parameter-free attacks"), native to
TensorFlow.

One run is Algorithm 1 of the paper, for l_inf and l_2 balls intersected
with the input box, with the choices of the authors' code (fra31/auto-attack,
`autopgd_base.py`, the implementation RobustBench evaluates with) where the
two differ:

- start at a random point of the sphere of radius epsilon (for l_inf, a
  uniform draw in the cube scaled so its largest coordinate is epsilon),
  clipped to the box;
- step size `eta = 2 * epsilon`; the first step is a projected steepest
  ascent step, every later one adds momentum `alpha = 0.75`:
  `z = P(x_k + eta * s(grad f(x_k)))`,
  `x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha) (x_k - x_{k-1}))`, with
  `s` the sign (l_inf) or the normalized gradient (l_2);
- at each checkpoint (see `checkpoints`) the step is halved and the iterate
  restarts from the best point found so far when either (1) at most
  `rho = 0.75` of the steps since the previous checkpoint increased the
  loss, or (2) the step was not halved at the previous checkpoint and the
  best loss has not improved since.

Where the code differs from the paper, this module follows the code:

- Checkpoints: the code's intervals (22 %, then 3 % shorter each time, at
  least 6 % of the iterations, each rounded down) instead of the paper's
  `ceil(p_j N)`; they agree for 100 iterations.
- Condition 1 counts a step as increasing when its loss exceeds the loss of
  the step before it (after a restart from the best point too, the loss of
  the iterate before the restart), and the first step of the run is
  compared with 0, not with the loss at the random start, as the code's
  `check_oscillation` does. It halves when exactly `rho` of the steps
  increased the loss (the paper: fewer than `rho`).
- Condition 2 is not checked at the first checkpoint (the paper checks
  whether the best loss improved since the start).

The paper's variants are not kept: the evaluation standard is the code,
and no measurement showed them to be at least as strong. They move the
halvings both ways: the strict condition 1 halves less often; condition 2
at the first checkpoint, and comparing the steps after a restart with the
best loss (which the next step rarely exceeds), more often.

For randomized models, `eot_samples > 1` replaces the gradient by its
average over that many calls of the model (Expectation over
Transformation, as in the authors' code, whose `version="rand"` uses 20);
the loss and the prediction that the bookkeeping uses are those of the
last call, as there.

Each example keeps its own step size, best point and checkpoint counters;
the whole loop is one `tf.while_loop` inside one `tf.function`, which XLA
can compile. An example's result is its first misclassified iterate (the
code keeps the last; both are misclassified). The random draws are
stateless Philox streams, so a run is reproducible, but not the draws of
the code's PyTorch generator.
"""

import numpy as np
import tensorflow as tf

from keras_quadreg import _batch, _deprecation, _validation
from keras_quadreg.attacks import _runner
from keras_quadreg.attacks.base import expected_retracing
from keras_quadreg.attacks.registry import register

#: Momentum of every step after the first (the paper's alpha).
MOMENTUM = 0.75
#: Fraction of loss-increasing steps below which the step is halved (rho).
RHO = 0.75
#: Initial step size as a multiple of epsilon, for l_inf and l_2.
INITIAL_STEP = 2.0
# Guards the normalizations of the paper and the authors' code.
_TINY = 1e-12


def checkpoints(steps):
    """The iterations after which APGD checks its step size, for `steps` iterations.

    As in the authors' code: the first check comes after
    `max(int(0.22 * steps), 1)` iterations, and each interval after that is
    `max(int(0.03 * steps), 1)` shorter than the one before, but at least
    `max(int(0.06 * steps), 1)`. The paper's `ceil(p_j * steps)`, with
    `p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`, gives the same
    checkpoints for 100 iterations and can differ by one for other counts.

    Example:

    ```python
    kq.attacks.apgd.checkpoints(100)  # [22, 41, 57, 70, 80, 87, 93, 99]
    ```

    Args:
        steps: Number of iterations, >= 1.

    Returns:
        A sorted list of distinct iterations in `[1, steps]`.
    """
    steps = _validation.integer("steps", steps, minimum=1)
    # The same float products as the code, so the same roundings.
    interval = max(int(0.22 * steps), 1)
    shrink, shortest = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    found, at = [], interval
    while at <= steps:
        found.append(at)
        interval = max(interval - shrink, shortest)
        at += interval
    return found


def reduce_step(increases, window, best_loss, best_loss_at_check, reduced_at_check):
    """Which examples halve their step at a checkpoint (the authors' rule).

    Condition 1: at most `rho * window` of the `window` steps since the
    previous checkpoint increased the loss. Condition 2: the step was not
    halved at the previous checkpoint and the best loss did not improve
    since then.

    Example:

    ```python
    kq.attacks.apgd.reduce_step(
        tf.constant([16.0, 17.0]), 22.0, tf.constant([1.0, 1.0]),
        tf.constant([0.5, 0.5]), tf.constant([True, True]))  # [True, False]
    ```

    Args:
        increases: Per example, the steps since the previous checkpoint
            that increased the loss, float32 `(batch,)`.
        window: Steps since the previous checkpoint.
        best_loss: Per example, the best loss so far.
        best_loss_at_check: Per example, the best loss at the previous
            checkpoint (at the start for the first checkpoint).
        reduced_at_check: Per example, whether the step was halved at the
            previous checkpoint (True for the first checkpoint, which the
            code's rule uses to skip condition 2 there).

    Returns:
        `(batch,)` bools.
    """
    oscillating = increases <= RHO * window
    stalled = ~reduced_at_check & (best_loss <= best_loss_at_check)
    return oscillating | stalled


def cross_entropy(logits, y, target):
    """Per-example softmax cross-entropy with the true class (`target` unused)."""
    del target
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)


def dlr(logits, y, target):
    """The paper's (untargeted) DLR loss, to maximize:
    `-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`, with `z_pi1 >= z_pi2 >= ...`
    the sorted logits (`target` unused). Needs at least 3 classes."""
    del target
    top = tf.math.top_k(logits, k=3).values
    z_y = tf.gather(logits, y, batch_dims=1)
    # The largest other logit is the second largest where y is on top.
    other = tf.where(z_y >= top[:, 0], top[:, 1], top[:, 0])
    return -(z_y - other) / (top[:, 0] - top[:, 2] + _TINY)


def targeted_dlr(logits, y, target):
    """The paper's targeted DLR loss, to maximize:
    `-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`, with `z_pi1 >= z_pi2 >= ...`
    the sorted logits. Needs at least 4 classes."""
    top = tf.math.top_k(logits, k=4).values
    z_y = tf.gather(logits, y, batch_dims=1)
    z_t = tf.gather(logits, target, batch_dims=1)
    scale = top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + _TINY
    return -(z_y - z_t) / scale


def _random_start(x, threat_model, seed):
    """A random point of the sphere of radius epsilon around `x`, in the box."""
    if threat_model.norm == "inf":
        # Philox explicitly: the same draws eagerly, in a graph and under XLA.
        noise = tf.random.stateless_uniform(tf.shape(x), seed, -1.0, 1.0, alg="philox")
        norm = _batch.linf_norm(noise)
    else:
        noise = tf.random.stateless_normal(tf.shape(x), seed, alg="philox")
        norm = _batch.l2_norm(noise)
    delta = threat_model.epsilon * noise / _batch.broadcast(norm + _TINY, noise)
    return threat_model.clip(x + delta)


def loss_and_gradient(model_fn, loss, point, y, target, samples=1):
    """Per-example loss, input gradient and misclassification at `point`.

    With `samples > 1` the gradient is the mean over that many calls of
    `model_fn` (Expectation over Transformation, for randomized models);
    the loss and the misclassification are those of the last call, as in
    the authors' code.

    Example:

    ```python
    losses, gradient, fooled = kq.attacks.apgd.loss_and_gradient(
        noisy_model_fn, kq.attacks.apgd.cross_entropy, x, y, y, samples=20)
    ```

    Args:
        model_fn: Callable from a batch of inputs to logits.
        loss: `loss(logits, y, target)` -> per-example loss.
        point: Inputs, float32 `(batch, ...)`.
        y: True classes, int64 `(batch,)`.
        target: Target classes of a targeted loss, int64 `(batch,)`.
        samples: Calls of `model_fn` to average the gradient over, a
            Python int >= 1.

    Returns:
        `(losses, gradient, fooled)`: `(batch,)` floats, a tensor shaped
        like `point`, and `(batch,)` bools.
    """

    def sample():
        with tf.GradientTape() as tape:
            tape.watch(point)
            logits = tf.cast(model_fn(point), tf.float32)
            losses = loss(logits, y, target)
        predicted = tf.argmax(logits, axis=-1, output_type=y.dtype)
        return losses, tape.gradient(losses, point), tf.not_equal(predicted, y)

    if samples == 1:
        return sample()

    def body(i, total, losses, fooled):
        losses, gradient, fooled = sample()
        return i + 1, total + gradient, losses, fooled

    batch = tf.shape(point)[0]
    _, total, losses, fooled = tf.while_loop(
        lambda i, *_: i < samples,
        body,
        (tf.constant(0), tf.zeros_like(point), tf.zeros([batch]), tf.zeros([batch], tf.bool)),
    )
    return losses, total / samples, fooled


def apgd(model_fn, loss, x, y, target, threat_model, seed, steps, eot_samples=1):
    """One run of APGD on a batch, as TensorFlow ops.

    Example:

    ```python
    run = tf.function(lambda x, y: kq.attacks.apgd.apgd(
        model_fn, kq.attacks.apgd.cross_entropy, x, y, y, threat, tf.constant([0, 0]), 100))
    x_adv, fooled = run(x, y)
    ```

    Args:
        model_fn: Callable from a batch of inputs to logits.
        loss: `loss(logits, y, target)` -> per-example loss to maximize,
            e.g. `cross_entropy` or `targeted_dlr`.
        x: Clean inputs, float32 `(batch, ...)`.
        y: True classes, int64 `(batch,)`.
        target: Target classes of a targeted loss, int64 `(batch,)`.
        threat_model: A `kq.ops.ThreatModel`.
        seed: Stateless seed of the random start, int32 `(2,)`.
        steps: Number of iterations, a Python int >= 1.
        eot_samples: Calls of `model_fn` each gradient is averaged over, a
            Python int >= 1 (see `loss_and_gradient`).

    Returns:
        `(x_adv, fooled)`: per example, the first misclassified iterate
        where `fooled`, else the point of highest loss.
    """
    final = _iterate(
        model_fn,
        loss,
        x,
        y,
        target,
        threat_model,
        _random_start(x, threat_model, seed),
        steps,
        eot_samples,
    )
    return _where(final["fooled"], final["adversarial"], final["best"]), final["fooled"]


def _where(condition, a, b):
    """`tf.where` with a per-example `condition`."""
    return tf.where(_batch.broadcast(condition, a), a, b)


def _iterate(model_fn, loss, x, y, target, threat_model, x_start, steps, eot_samples):
    """The loop of `apgd` from `x_start`. Returns its final state: a dict of
    per-example tensors (`best`, `best_loss`, `step`, `fooled`, ...) and `k`,
    the iterations run (fewer than `steps` once every example is fooled)."""
    marks = checkpoints(steps)
    is_checkpoint = np.zeros(steps + 1, bool)
    is_checkpoint[marks] = True
    since_previous = np.zeros(steps + 1, np.float32)
    since_previous[marks] = np.diff([0] + marks)
    is_checkpoint, since_previous = tf.constant(is_checkpoint), tf.constant(since_previous)
    epsilon = threat_model.epsilon

    def evaluate(point):
        return loss_and_gradient(model_fn, loss, point, y, target, eot_samples)

    loss_start, grad_start, fooled_start = evaluate(x_start)
    batch = tf.shape(x)[0]
    state = dict(
        k=tf.constant(0),
        current=x_start,
        previous=x_start,
        grad=grad_start,
        # The loss the first step is compared with: 0, as in the code.
        loss=tf.zeros([batch]),
        step=tf.fill([batch], tf.constant(INITIAL_STEP * epsilon, tf.float32)),
        best=x_start,
        best_grad=grad_start,
        best_loss=loss_start,
        adversarial=x_start,
        fooled=fooled_start,
        increases=tf.zeros([batch]),
        best_loss_at_check=loss_start,
        reduced_at_check=tf.ones([batch], tf.bool),
    )

    def body(s):
        k = s["k"]
        current = s["current"]
        ascent = threat_model.project(
            x, threat_model.step(current, s["grad"], _batch.broadcast(s["step"], current))
        )
        alpha = tf.where(k == 0, 1.0, MOMENTUM)
        moved = threat_model.project(
            x, current + alpha * (ascent - current) + (1.0 - alpha) * (current - s["previous"])
        )
        loss, grad, fooled = evaluate(moved)
        # Keeps each example's first misclassified point.
        adversarial = _where(fooled & ~s["fooled"], moved, s["adversarial"])
        increases = s["increases"] + tf.cast(loss > s["loss"], tf.float32)
        improved = loss > s["best_loss"]
        best = _where(improved, moved, s["best"])
        best_grad = _where(improved, grad, s["best_grad"])
        best_loss = tf.where(improved, loss, s["best_loss"])

        at_check = is_checkpoint[k + 1]
        halve = at_check & reduce_step(
            increases,
            since_previous[k + 1],
            best_loss,
            s["best_loss_at_check"],
            s["reduced_at_check"],
        )
        return dict(
            k=k + 1,
            current=_where(halve, best, moved),
            previous=current,
            grad=_where(halve, best_grad, grad),
            loss=loss,
            step=tf.where(halve, 0.5 * s["step"], s["step"]),
            best=best,
            best_grad=best_grad,
            best_loss=best_loss,
            adversarial=adversarial,
            fooled=s["fooled"] | fooled,
            increases=tf.where(at_check, 0.0, increases),
            best_loss_at_check=tf.where(at_check, best_loss, s["best_loss_at_check"]),
            reduced_at_check=tf.where(at_check, halve, s["reduced_at_check"]),
        )

    # Once every example is fooled nothing returned can change.
    def more(s):
        return (s["k"] < steps) & ~tf.reduce_all(s["fooled"])

    return tf.while_loop(more, lambda s: (body(s),), (state,))[0]


class _APGD(_runner.RobustExamplesAttack):
    """APGD-CE, APGD-DLR and APGD-T: `steps` iterations of `apgd` on `_loss`."""

    _loss = None
    # The fewest classes `_loss` is defined for, and its name in the error.
    _min_classes, _loss_name = 1, "cross-entropy"
    # Whether `generate` counts the examples whose gradient is zero at a
    # random start (`zero_gradients`), as the authors' code does for DLR losses.
    _checks_zero_gradients = False

    def __init__(self, steps=100, restarts=1, eot_samples=1, jit_compile=False, name=None):
        super().__init__(restarts=restarts, jit_compile=jit_compile, name=name)
        self.steps = _validation.integer("steps", steps, minimum=1)
        self.eot_samples = _validation.integer("eot_samples", eot_samples, minimum=1)
        #: After `generate` of APGD-T or APGD-DLR, `(count, total)`: of the
        #: `total` examples classified correctly, how many had an all-zero
        #: gradient at a random start (None for APGD-CE).
        self.zero_gradients = None

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        self.zero_gradients = None
        if self._checks_zero_gradients:
            self.zero_gradients = self._count_zero_gradients(
                model_fn, x, y, threat_model, seed, batch_size
            )
        return super()._generate(model_fn, x, y, threat_model, seed, batch_size, verbose)

    def _count_zero_gradients(self, model_fn, x, y, threat_model, seed, batch_size):
        """`(count, total)`: of the `total` examples the model classifies
        correctly, how many have an all-zero gradient of the loss (for the
        first target class) at a random start, which the authors' code
        checks for its DLR losses."""
        loss = type(self)._loss

        @tf.function(
            input_signature=[
                tf.TensorSpec((None, *x.shape[1:]), tf.float32),
                tf.TensorSpec((None,), tf.int64),
                tf.TensorSpec((2,), tf.int32),
            ]
        )
        def check(xb, yb, run_seed):
            logits = tf.cast(model_fn(xb), tf.float32)
            correct = tf.equal(tf.argmax(logits, -1), yb)
            # The highest-scoring other class: the first target of APGD-T.
            target = tf.argmax(
                tf.where(tf.one_hot(yb, tf.shape(logits)[-1]) > 0, -np.inf, logits), -1
            )
            start = _random_start(xb, threat_model, run_seed)
            _, gradient, _ = loss_and_gradient(model_fn, loss, start, yb, target)
            flat = tf.reshape(gradient, [tf.shape(xb)[0], -1])
            zero = tf.reduce_all(tf.equal(flat, 0.0), axis=1)
            return (
                tf.reduce_sum(tf.cast(zero & correct, tf.int32)),
                tf.reduce_sum(tf.cast(correct, tf.int32)),
            )

        count = total = 0
        with expected_retracing():
            for start in range(0, len(x), batch_size):
                zero, correct = check(
                    tf.constant(x[start : start + batch_size]),
                    tf.constant(y[start : start + batch_size]),
                    tf.constant([seed, -1 - start // batch_size], tf.int32),
                )
                count, total = count + int(zero), total + int(correct)
        return count, total

    def run_batch(self, model_fn, x, y, target, threat_model, seed):
        return apgd(
            model_fn,
            type(self)._loss,
            x,
            y,
            target,
            threat_model,
            seed,
            self.steps,
            self.eot_samples,
        )

    def check_classes(self, num_classes):
        if num_classes < self._min_classes:
            raise ValueError(
                f"{type(self).__name__}'s {self._loss_name} loss needs a model with at least "
                f"{self._min_classes} classes. Received: a model with {num_classes} classes"
            )

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "eot_samples": self.eot_samples}


@register("apgd_ce")
class APGDCE(_APGD):
    """APGD-CE: Auto-PGD on the cross-entropy loss, untargeted.

    The first attack of the standard AutoAttack (Croce & Hein 2020): 100
    iterations, momentum 0.75, a step that starts at 2 epsilon and halves at
    the paper's checkpoints when progress stalls, restarting from the best
    point. See the module `kq.attacks.apgd` for the exact algorithm. Runs
    with `restarts > 1` attack only the examples still robust, each from a
    new random start.

    Example:

    ```python
    threat = kq.ops.threat_model(0.3, norm="inf", clip_min=0.0, clip_max=1.0)
    x_adv = kq.attacks.APGDCE().generate(model_fn, x, y, threat, seed=0)
    ```

    Args:
        steps: Iterations per run, >= 1.
        restarts: Runs from random starts, >= 1.
        eot_samples: Calls of the model each gradient is averaged over, >= 1;
            more than 1 only for randomized models (AutoAttack's
            `version="rand"` uses 20).
        jit_compile: Whether to compile each run with XLA (one compilation
            per distinct number of examples still robust).
        name: Key in reports.
    """

    _loss = staticmethod(cross_entropy)


@register("apgd_dlr")
class APGDDLR(_APGD):
    """APGD-DLR: Auto-PGD on the untargeted DLR loss.

    With `eot_samples=20`, the second attack of AutoAttack's version for
    randomized defenses (Croce & Hein 2020): the iterations of `APGDCE` on
    `-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`, which, unlike the
    cross-entropy, does not change when the logits are scaled. Needs a
    model with at least 3 classes.

    Example:

    ```python
    threat = kq.ops.threat_model(0.3, norm="inf", clip_min=0.0, clip_max=1.0)
    x_adv = kq.attacks.APGDDLR(eot_samples=20).generate(noisy_model_fn, x, y, threat)
    ```

    Args:
        steps, restarts, eot_samples, jit_compile, name: As for `APGDCE`.
    """

    _loss = staticmethod(dlr)
    _min_classes, _loss_name = 3, "DLR"
    _checks_zero_gradients = True


@register("apgd_t")
class APGDT(_APGD):
    """APGD-T: Auto-PGD on the targeted DLR loss.

    The second attack of the standard AutoAttack (Croce & Hein 2020): one
    run per target class, the `target_classes` highest-scoring other classes
    at the clean input in decreasing order, each on the examples still
    robust, maximizing `-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`. The
    iterations are those of `APGDCE`. Needs a model with at least 4 classes.

    Example:

    ```python
    threat = kq.ops.threat_model(1.5, norm=2, clip_min=0.0, clip_max=1.0)
    x_adv = kq.attacks.APGDT(target_classes=9).generate(model_fn, x, y, threat)
    ```

    Args:
        steps: Iterations per run, >= 1.
        target_classes: How many target classes to try, >= 1 (at most the
            number of classes minus one are used).
        restarts: Runs from random starts per target class, >= 1.
        eot_samples, jit_compile, name: As for `APGDCE`.
    """

    _loss = staticmethod(targeted_dlr)
    _min_classes, _loss_name = 4, "targeted DLR"
    _checks_zero_gradients = True

    def __init__(
        self, steps=100, target_classes=9, restarts=1, eot_samples=1, jit_compile=False, name=None
    ):
        super().__init__(
            steps=steps,
            restarts=restarts,
            eot_samples=eot_samples,
            jit_compile=jit_compile,
            name=name,
        )
        self.target_classes = _validation.integer("target_classes", target_classes, minimum=1)

    def _targets(self, logits, y):
        return _runner.ranked_targets(logits, y, self.target_classes)

    def get_config(self):
        return {**super().get_config(), "target_classes": self.target_classes}


__getattr__ = _deprecation.moved_attributes(
    __name__,
    {
        "RobustExamplesAttack": "keras_quadreg.attacks._runner.RobustExamplesAttack",
        "ranked_targets": "keras_quadreg.attacks._runner.ranked_targets",
    },
)

"""The interface of robustness-evaluation attacks."""

import contextlib
import logging

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _collect, _outputs, _registry, _validation
from keras_quadreg._config import Configurable
from keras_quadreg.ops import threat as threat_lib


def check_labels_in_range(y, num_classes):
    if np.any(y >= num_classes):
        raise ValueError(
            f"Expected class indices < the number of classes the model outputs, "
            f"{num_classes}. Received: max(y)={int(y.max())}"
        )


def check_in_box(x, threat_model):
    if not threat_model.has_box:
        return
    low, high = threat_model.clip_min, threat_model.clip_max
    slack = _outputs.range_slack(low, high)
    if x.min() < low - slack or x.max() > high + slack:
        raise ValueError(
            f"Expected inputs in the threat model's box [clip_min, clip_max] = [{low}, {high}]. "
            f"Received: inputs in [{float(x.min())}, {float(x.max())}]"
        )


class Attack(Configurable):
    """Base class of the attacks that evaluate robustness.

    An attack is configured once (steps, restarts, ...) and run against any
    threat model: step sizes are fractions of epsilon, so one attack object
    serves a sweep over epsilon. `generate` runs it over a dataset in
    batches and returns adversarial inputs that lie in the threat model
    (every result is projected into the ball and the box, so even a
    minimum-norm attack such as Carlini-Wagner is judged inside the threat
    model).

    Subclasses implement `_generate`, or `perturb` when they derive from
    `GraphAttack`.

    Args:
        name: Key of the attack in reports; defaults to its registry name.
    """

    #: Threat-model norms the attack supports.
    norms = ("inf", 2)
    #: Whether the attack only queries the model's outputs.
    gradient_free = False
    #: Whether the attack needs an input box (`clip_min`, `clip_max`).
    needs_box = False
    #: Registry name; set by `kq.attacks.register`.
    registered_name = None

    def __init__(self, name=None):
        self.name = (
            _registry.check_name(name)
            or self.registered_name
            or _registry.snake_case(type(self).__name__)
        )
        #: What the last `generate` found beyond the adversarial inputs, or None.
        self.details = None

    def generate(self, model_fn, x, y, threat_model, *, seed=0, batch_size=128, verbose=0):
        """Adversarial versions of `x` inside `threat_model`.

        Example:

        ```python
        threat = kq.ops.threat_model(0.3, norm="inf", clip_min=0.0, clip_max=1.0)
        model_fn, _ = kq.attacks.logits_function(model)
        x_adv = kq.attacks.PGD(steps=40).generate(model_fn, x, y, threat, seed=0)
        ```

        Args:
            model_fn: Callable mapping a batch of inputs to logits, e.g. from
                `kq.attacks.logits_function(model)`.
            x: Clean inputs, an array `(n, ...)`.
            y: True class indices `(n,)`.
            threat_model: A `kq.ops.ThreatModel`.
            seed: Seed of the attack's randomness; the same seed, data and
                `batch_size` give the same result.
            batch_size: Examples attacked together.
            verbose: 1 shows a progress bar.

        Returns:
            A float32 array shaped like `x`.
        """
        x, y = _collect.check_examples(x, y)
        if not isinstance(threat_model, threat_lib.ThreatModel):
            raise ValueError(
                "Expected `threat_model` to be a kq.ops.ThreatModel, e.g. "
                'kq.ops.threat_model(0.3, "inf", 0.0, 1.0). '
                f"Received: threat_model={threat_model!r}"
            )
        if threat_model.norm not in self.norms:
            raise ValueError(
                f"{type(self).__name__} supports the norms {list(self.norms)}. "
                f"Received: norm={threat_model.norm!r}"
            )
        if self.needs_box and not threat_model.has_box:
            raise ValueError(
                f"{type(self).__name__} needs an input box: set `clip_min` and `clip_max` "
                "of the threat model. Received: clip_min=None, clip_max=None"
            )
        check_in_box(x, threat_model)
        seed = _validation.integer("seed", seed)
        batch_size = _validation.integer("batch_size", batch_size, minimum=1)
        _validation.verbose(verbose)
        num_classes = int(model_fn(tf.constant(x[:1])).shape[-1])
        check_labels_in_range(y, num_classes)
        self.check_classes(num_classes)
        self.check_inputs(x.shape)
        self.details = None
        x_adv = self._generate(model_fn, x, y, threat_model, seed, batch_size, verbose)
        return self._project(x, x_adv, threat_model, batch_size)

    def check_classes(self, num_classes):
        """Raises if the attack cannot run on a model with `num_classes`
        classes; `generate` and `kq.evaluate_robustness` call it before any
        attack runs."""

    def check_inputs(self, shape):
        """Raises if the attack cannot run on a batch of inputs of `shape`
        (`(n, ...)`); `generate` and `kq.evaluate_robustness` call it before
        any attack runs."""

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        raise NotImplementedError(f"{type(self).__name__} must implement `_generate`.")

    @staticmethod
    def _project(x, x_adv, threat_model, batch_size):
        out = np.empty_like(x)
        for start in range(0, len(x), batch_size):
            end = start + batch_size
            out[start:end] = threat_model.project(
                tf.constant(x[start:end]), tf.constant(x_adv[start:end], tf.float32)
            ).numpy()
        return out

    def get_config(self):
        return {"name": self.name}


class _RetracingFilter(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def expected_retracing():
    """Silences TensorFlow's warning about functions traced in a loop, for
    code that traces a new function on purpose (an attack's seed lives in its
    trace; each evaluation compiles its own predictor)."""
    logger, quiet = tf.get_logger(), _RetracingFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


class GraphAttack(Attack):
    """An attack that is a TensorFlow function of one batch.

    `generate` compiles `perturb` with `tf.function` once per call and runs
    it batch after batch. The graph-level seed of that function is `seed`:
    the unseeded random ops of the attack (CleverHans draws its random
    starts that way) are then reproducible, and differ from batch to batch.
    """

    def perturb(self, model_fn, x, y, threat_model):
        """Adversarial inputs for one batch, as TensorFlow ops."""
        raise NotImplementedError(f"{type(self).__name__} must implement `perturb`.")

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        # One trace per call, whatever the size of the last batch.
        signature = [
            tf.TensorSpec((None, *x.shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int64),
        ]

        @tf.function(input_signature=signature)
        def run(x, y):
            tf.random.set_seed(seed)
            return self.perturb(model_fn, x, y, threat_model)

        out = np.empty_like(x)
        progress = keras.utils.Progbar(len(x), verbose=verbose, unit_name="example")
        with expected_retracing():
            for start in range(0, len(x), batch_size):
                end = min(start + batch_size, len(x))
                out[start:end] = run(tf.constant(x[start:end]), tf.constant(y[start:end])).numpy()
                progress.update(end)
        return out


def misclassified(model_fn, x, y):
    """Per-example `argmax model_fn(x) != y`."""
    predictions = tf.argmax(model_fn(x), axis=-1, output_type=tf.int64)
    return tf.not_equal(predictions, tf.cast(y, tf.int64))


def keep_first_success(model_fn, x, y, run, restarts):
    """Runs `run()` `restarts` times; per example, the first result that is
    misclassified, else the last one."""
    best = run()
    if restarts == 1:
        return best

    def body(i, best):
        fooled = misclassified(model_fn, best, y)
        candidate = run()
        mask = tf.reshape(fooled, [-1] + [1] * (x.shape.rank - 1))
        return i + 1, tf.where(mask, best, candidate)

    _, best = tf.while_loop(lambda i, _: i < restarts - 1, body, (tf.constant(0), best))
    return best

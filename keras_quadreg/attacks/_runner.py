"""What the native attacks share: a compiled predictor, the ranked target
classes, and the loop that attacks only the examples still robust.

APGD, FAB and Square subclass `RobustExamplesAttack` and keep only their
per-batch algorithm (`run_batch`); AutoAttack and the evaluation use
`Predictor` and `attack_robust`.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.attacks.base import Attack, expected_retracing


class Predictor:
    """The logits and predicted classes of a `model_fn`, compiled once, in batches."""

    def __init__(self, model_fn, batch_size):
        self.batch_size = batch_size
        self._model_fn = model_fn
        self._logits = tf.function(model_fn, reduce_retracing=True)

        def labels(x):
            logits = model_fn(x)
            finite = tf.reduce_all(tf.math.is_finite(logits), axis=-1)
            return tf.argmax(logits, axis=-1, output_type=tf.int64), finite

        self._labels = tf.function(labels, reduce_retracing=True)

    def _batches(self, function, x):
        step = self.batch_size
        with expected_retracing():
            return [function(tf.constant(x[i : i + step])) for i in range(0, len(x), step)]

    def logits(self, x):
        """The model's outputs on `x`."""
        return np.concatenate([t.numpy() for t in self._batches(self._logits, x)])

    def __call__(self, x, check_finite=False, what="examples"):
        """The predicted classes of `x`, int64; with `check_finite`, after
        checking the model's outputs on every example (`what`, in the error)
        are finite: `argmax` of NaN is class 0, which would count as a
        plausible prediction, clean or attacked. The flags come with the
        labels, at no extra pass."""
        batches = self._batches(self._labels, x)
        if check_finite:
            _validation.finite_outputs(
                np.concatenate([finite.numpy() for _, finite in batches]),
                lambda index: self._model_fn(tf.constant(x[index])).numpy(),
                what,
            )
        return np.concatenate([labels.numpy() for labels, _ in batches])


def ranked_targets(logits, y, count):
    """`(count, batch)`: per example, the `count` highest-scoring classes
    other than `y`, in decreasing order of `logits` (fewer if there are
    fewer other classes)."""
    ranked = np.argsort(-logits, axis=-1, kind="stable")
    others = np.stack([row[row != label] for row, label in zip(ranked, y, strict=True)])
    return others[:, :count].T.astype(np.int64)


def attack_robust(robust, out, attack):
    """Attacks the examples still robust and keeps what breaks them.

    Args:
        robust: Bools `(n,)`, updated: an example broken becomes False.
        out: Inputs `(n, ...)`, updated: a broken example's adversarial input.
        attack: `attack(index) -> (x_adv, fooled)` on the examples `index`.

    Returns:
        The indices attacked.
    """
    index = np.flatnonzero(robust)
    if len(index):
        x_adv, fooled = attack(index)
        out[index[fooled]] = x_adv[fooled]
        robust[index[fooled]] = False
    return index


class RobustExamplesAttack(Attack):
    """An attack compiled as one function of a batch `(x, y, target, seed)`
    and run only on the examples still classified correctly: once per
    restart and per target class, an example broken once stays broken. The
    examples no run breaks are returned unchanged.

    Subclasses implement `run_batch`, `_targets` when targeted, and
    `_record` when `run_batch` returns more than `(x_adv, fooled)`.

    Args:
        restarts: Runs per target class, >= 1.
        jit_compile: Whether to compile `run_batch` with XLA (one
            compilation per distinct number of examples attacked).
        name: Key in reports.
    """

    #: Whether `restarts` is an argument of the subclass.
    restartable = True

    def __init__(self, restarts=1, jit_compile=False, name=None):
        super().__init__(name=name)
        self.restarts = _validation.integer("restarts", restarts, minimum=1)
        self.jit_compile = _validation.flag("jit_compile", jit_compile)

    def run_batch(self, model_fn, x, y, target, threat_model, seed):
        """`(x_adv, fooled, *extra)` for one batch, as TensorFlow ops."""
        raise NotImplementedError(f"{type(self).__name__} must implement `run_batch`.")

    def _targets(self, logits, y):
        """`(runs, batch)` target classes, one row per targeted run."""
        return y[None]

    def _record(self, index, *extra):
        """Keeps what `run_batch` returned besides `(x_adv, fooled)` for the
        examples `index` (of the whole input)."""

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        signature = [
            tf.TensorSpec((None, *x.shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((2,), tf.int32),
        ]

        @tf.function(input_signature=signature, jit_compile=self.jit_compile)
        def run(x, y, target, run_seed):
            return self.run_batch(model_fn, x, y, target, threat_model, run_seed)

        predict = Predictor(model_fn, batch_size)
        out = x.copy()
        runs = 0

        def attack(index, target):
            nonlocal runs
            x_adv, fooled, *extra = (
                t.numpy()
                for t in run(
                    tf.constant(x[index]),
                    tf.constant(y[index]),
                    tf.constant(target),
                    tf.constant([seed, runs], tf.int32),
                )
            )
            runs += 1
            self._record(index, *extra)
            return x_adv, fooled

        progress = keras.utils.Progbar(len(x), verbose=verbose, unit_name="example")
        with expected_retracing():
            for start in range(0, len(x), batch_size):
                end = min(start + batch_size, len(x))
                logits = predict.logits(x[start:end])
                robust = np.argmax(logits, axis=-1) == y[start:end]
                for target in self._targets(logits, y[start:end]):
                    for _ in range(self.restarts):
                        index = attack_robust(
                            robust,
                            out[start:end],  # a view: what is kept lands in `out`
                            lambda i, start=start, target=target: attack(start + i, target[i]),
                        )
                        if not len(index):
                            break
                progress.update(end)
        return out

    def get_config(self):
        config = {**super().get_config(), "jit_compile": self.jit_compile}
        if self.restartable:
            config["restarts"] = self.restarts
        return config

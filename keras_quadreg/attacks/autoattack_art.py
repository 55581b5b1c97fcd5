"""AutoAttack's standard set through the Adversarial Robustness Toolbox:
what `kq.attacks.AutoAttack(backend="art")` runs (the optional extra
`autoattack`), a cross-check of the native set.

What ART 1.20.1 provides, and how the standard set is configured from it:

- APGD-CE: `AutoProjectedGradientDescent(loss_type="cross_entropy")`,
  untargeted, 100 iterations, 1 restart, initial step `2 * epsilon`.
- APGD-T: the same class with `loss_type="difference_logits_ratio"` and
  `targeted=True`, against the 9 highest-scoring other classes at the clean
  input (all of them with 10 classes), as in the standard version. ART's
  targeted loss is its DLR formula at the target label,
  `(z_t - z_max_other) / (z_1 - z_3)`, not the paper's targeted DLR with
  the normalizer `z_1 - (z_3 + z_4) / 2`.
- DeepFool (component `"deepfool"`), in place of FAB-T, which is not in
  ART 1.20.1: ART's `DeepFool` (100 iterations, overshoot 1e-3, as in ART's
  own default AutoAttack set), the untargeted minimum-norm linearization
  attack FAB builds on; its results count only inside the threat model.
  It is reported under its own name, not as `"fab_t"`, since it is a
  different attack.
- Square: `SquareAttack`, 5000 queries, `p_init=0.8`, 1 restart.

The components run in the standard order, each on the examples still
robust, through `art.attacks.evasion.auto_attack.run_attack`: the function
ART's `AutoAttack.generate` applies to each attack, which keeps a result
only if it is inside the ball and misclassified (or classified as the
target; `AutoAttack.generate` itself is not used: in ART 1.20.1 it
imports the `multiprocess` package, which ART does not declare as a
dependency). ART draws its randomness from NumPy and Python's `random`;
both are seeded from `seed` for the run and restored afterwards.
"""

import contextlib
import random
import time

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.attacks import _runner

#: The components of the standard version through ART, in the order they run.
STANDARD = ("apgd_ce", "apgd_t", "deepfool", "square")

_DESCRIPTIONS = {
    "apgd_ce": "ART AutoProjectedGradientDescent, cross-entropy, untargeted",
    "apgd_t": (
        "ART AutoProjectedGradientDescent, difference of logits ratio, targeted at each of "
        "the {} highest-scoring other classes"
    ),
    "deepfool": "ART DeepFool, untargeted, in place of FAB-T (FAB is not in ART 1.20.1)",
    "square": "ART SquareAttack, margin loss, untargeted",
}

_INSTALL = (
    "AutoAttack(backend='art') runs through the Adversarial Robustness Toolbox: install "
    "the extra with `pip install 'keras-quadreg[autoattack]'`, or use the default "
    "backend='native'."
)


def check_installed():
    """Raises an `ImportError` naming the extra to install if ART is absent."""
    try:
        import art  # noqa: F401
    except ImportError:
        raise ImportError(_INSTALL) from None


@contextlib.contextmanager
def _seeded(seed):
    numpy_state, python_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


class _ARTModel:
    """A compiled `model_fn` with the `training` argument ART passes."""

    def __init__(self, model_fn):
        self._call = tf.function(model_fn, reduce_retracing=True)

    def __call__(self, x, training=False):
        return self._call(tf.convert_to_tensor(x, tf.float32))


def _attacks(estimator, components, threat_model, steps, square_queries, batch_size, verbose):
    """`{component: build}` for `components`, `build()` giving the ART attack
    and whether it is targeted."""
    from art.attacks.evasion import AutoProjectedGradientDescent, DeepFool, SquareAttack

    norm, eps = (np.inf if threat_model.norm == "inf" else 2), threat_model.epsilon

    def apgd(loss_type, targeted=False):
        return AutoProjectedGradientDescent(
            estimator,
            norm=norm,
            eps=eps,
            eps_step=2 * eps,
            max_iter=steps,
            targeted=targeted,
            nb_random_init=1,
            batch_size=batch_size,
            loss_type=loss_type,
            verbose=verbose,
        )

    builders = {
        "apgd_ce": lambda: (apgd("cross_entropy"), False),
        "apgd_t": lambda: (apgd("difference_logits_ratio", targeted=True), True),
        "deepfool": lambda: (
            DeepFool(
                estimator,
                max_iter=steps,
                epsilon=1e-3,
                nb_grads=10,
                batch_size=batch_size,
                verbose=verbose,
            ),
            False,
        ),
        "square": lambda: (
            SquareAttack(
                estimator,
                norm=norm,
                max_iter=square_queries,
                eps=eps,
                p_init=0.8,
                nb_restarts=1,
                batch_size=batch_size,
                verbose=verbose,
            ),
            False,
        ),
    }
    return {name: builders[name] for name in components}


def run(
    model_fn,
    x,
    y,
    threat_model,
    *,
    components,
    target_classes,
    steps,
    square_queries,
    seed,
    batch_size,
    verbose,
):
    """Runs `components` of the standard set with ART, each on the examples
    still robust.

    Returns:
        `(x_adv, details, clean_accuracy)`, `details` as
        `kq.attacks.AutoAttack.details`.
    """
    from art.attacks.evasion.auto_attack import run_attack
    from art.estimators.classification import TensorFlowV2Classifier

    model = _ARTModel(model_fn)
    estimator = TensorFlowV2Classifier(
        model=model,
        nb_classes=int(model(x[:1]).shape[-1]),
        input_shape=x.shape[1:],
        loss_object=keras.losses.CategoricalCrossentropy(from_logits=True),
        clip_values=(threat_model.clip_min, threat_model.clip_max),
    )
    num_classes = estimator.nb_classes
    norm, eps = (np.inf if threat_model.norm == "inf" else 2), threat_model.epsilon
    logits = estimator.predict(x, batch_size=batch_size)
    _validation.finite_outputs(np.all(np.isfinite(logits), axis=-1), lambda i: logits[i])
    one_hot = np.eye(num_classes, dtype=np.float32)
    robust = np.argmax(logits, axis=-1) == y
    clean_accuracy = float(robust.mean())
    # Targets of APGD-T: the other classes by decreasing clean logit.
    targets = _runner.ranked_targets(logits, y, target_classes)
    x_adv = x.copy()
    details = {}
    attacks = _attacks(
        estimator, components, threat_model, steps, square_queries, batch_size, bool(verbose)
    )
    with _seeded(seed):
        for name, build in attacks.items():
            start = time.perf_counter()
            attacked = int(robust.sum())
            attack, targeted = build()
            labels = [one_hot[t] for t in targets] if targeted else [one_hot[y]]
            for label in labels:
                if robust.any():
                    x_adv, robust = run_attack(
                        x_adv, label, robust, attack, estimator, norm=norm, eps=eps
                    )
            details[name] = {
                "ran": _DESCRIPTIONS[name].format(target_classes),
                "examples_attacked": attacked,
                "examples_broken": attacked - int(robust.sum()),
                "robust_accuracy_after": float(robust.mean()),
                "seconds": time.perf_counter() - start,
            }
    return x_adv, details, clean_accuracy

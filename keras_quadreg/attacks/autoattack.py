"""AutoAttack (Croce & Hein 2020), native to TensorFlow
(`backend="native"`, the default) or through the Adversarial Robustness
Toolbox (`backend="art"`, the optional extra `autoattack`).

The native backend runs `kq.attacks.APGDCE`, `APGDT` and `FABT` (each with
9 target classes by default) and `Square` (5000 queries), for l_inf and
l_2, configured as the authors' code (fra31/auto-attack, which RobustBench
evaluates with) configures its standard version, and following that code
wherever it differs from the papers (each module lists the differences;
`benchmarks/autoattack_reference.py` runs both on the same images). It
does not import ART. Its `version="rand"`, for randomized defenses, is the authors':
`APGDCE` and `APGDDLR` (untargeted DLR loss), each gradient averaged over
20 calls of the model (Expectation over Transformation).

Both backends raise the warning flags of the authors' code (`checks.py`), as
`UserWarning`s kept in `flags` after `generate`: a randomized model (standard
version only), probability outputs, a dynamic model, and,
after the run, Square breaking more than 0.2 % of the examples after the
white-box components; the native backend also flags examples whose DLR
gradient is zero at APGD's random start. See `kq.attacks.checks`.

What ART 1.20.1 provides, and how the standard set is configured from it
with `backend="art"` (a cross-check of the native set):

- APGD-CE: `AutoProjectedGradientDescent(loss_type="cross_entropy")`,
  untargeted, 100 iterations, 1 restart, initial step `2 * epsilon`.
- APGD-T: the same class with `loss_type="difference_logits_ratio"` and
  `targeted=True`, against the 9 highest-scoring other classes at the clean
  input (all of them with 10 classes), as in the standard version. ART's
  targeted loss is its DLR formula at the target label,
  `(z_t - z_max_other) / (z_1 - z_3)`, not the paper's targeted DLR with
  the normalizer `z_1 - (z_3 + z_4) / 2`.
- FAB-T: not in ART 1.20.1. It is replaced by ART's `DeepFool` (100
  iterations, overshoot 1e-3, as in ART's own default AutoAttack set), the
  minimum-norm linearization attack FAB builds on; its results count only
  inside the threat model.
- Square: `SquareAttack`, 5000 queries, `p_init=0.8`, 1 restart.

With either backend the components run in the standard order, each on
the examples still robust (for ART through
`art.attacks.evasion.auto_attack.run_attack`: the function
ART's `AutoAttack.generate` applies to each attack, which keeps a result
only if it is inside the ball and misclassified (or classified as the
target; `AutoAttack.generate` itself is not used: in ART 1.20.1 it
imports the `multiprocess` package, which ART does not declare as a
dependency). An example is robust only if every component fails on it
(per-example worst case). ART draws its randomness from NumPy and Python's `random`; both are
seeded from `seed` for the run and restored afterwards.
"""

import contextlib
import random
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.attacks import _runner, apgd, checks, fab, square
from keras_quadreg.attacks.base import Attack
from keras_quadreg.attacks.registry import register

STANDARD = ("apgd_ce", "apgd_t", "fab_t", "square")
#: The components of each version, in the order they run.
VERSIONS = {"standard": STANDARD, "rand": ("apgd_ce", "apgd_dlr")}
#: Calls of the model each gradient of `version="rand"` averages over.
RAND_EOT_SAMPLES = checks.RAND_EOT_SAMPLES

_DESCRIPTIONS = {
    "apgd_ce": "ART AutoProjectedGradientDescent, cross-entropy, untargeted",
    "apgd_t": (
        "ART AutoProjectedGradientDescent, difference of logits ratio, targeted at each of "
        "the {} highest-scoring other classes"
    ),
    "fab_t": "ART DeepFool, substituted for FAB-T (FAB is not in ART 1.20.1)",
    "square": "ART SquareAttack, margin loss, untargeted",
}

_NATIVE_DESCRIPTIONS = {
    "apgd_ce": "kq.attacks.APGDCE, cross-entropy, untargeted",
    "apgd_dlr": "kq.attacks.APGDDLR, DLR, untargeted",
    "apgd_t": (
        "kq.attacks.APGDT, the paper's targeted DLR, targeted at each of the {} "
        "highest-scoring other classes"
    ),
    "fab_t": "kq.attacks.FABT, targeted at each of the {} highest-scoring other classes",
    "square": "kq.attacks.Square, margin loss, untargeted",
}

_INSTALL = (
    "AutoAttack(backend='art') runs through the Adversarial Robustness Toolbox: install "
    "the extra with `pip install 'keras-quadreg[autoattack]'`, or use the default "
    "backend='native'."
)


def _class_needs(components, target_classes):
    """`{component: (fewest classes, why)}` of those of `components` that
    need more classes than a classifier has (2)."""
    targets = f"target_classes + 1 = {target_classes + 1} for its targets"
    needs = {
        "apgd_dlr": (3, "3 for its DLR loss"),
        "apgd_t": (max(4, target_classes + 1), f"4 for its targeted DLR loss, {targets}"),
        "fab_t": (target_classes + 1, targets),
    }
    return {c: needs[c] for c in components if c in needs}


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


@register("autoattack", "auto_attack")
class AutoAttack(Attack):
    """AutoAttack, run natively or with ART's attacks.

    The standard version runs APGD-CE, APGD-T, FAB-T and Square, in that
    order, each on the examples the previous ones did not break; the result
    is the per-example worst case. With `backend="native"` (the default)
    every component is this library's TensorFlow implementation; with
    `backend="art"` they are ART's, FAB-T replaced by DeepFool (FAB is not
    in ART 1.20.1). `version="rand"`, for randomized defenses, runs APGD-CE
    and APGD-DLR the same way, each gradient averaged over 20 calls of the
    model (native only). See the module docstring for exactly what each
    component runs. After `generate`, `details` holds per component the
    examples it attacked and broke, the robust accuracy after it and its
    time, and `flags` the warning flags of the authors' code the run raised
    (`kq.attacks.checks`), each `{"check": name, "message": text}` and
    each also raised as a `UserWarning`.

    Only `backend="art"` needs the optional extra:
    `pip install 'keras-quadreg[autoattack]'`.

    Example:

    ```python
    report = kq.evaluate_robustness(model, test_ds, epsilon=0.3,
                                    attacks=["autoattack"], num_examples=1000)
    report.attacks["autoattack"].details
    # A model with randomness at inference:
    kq.attacks.AutoAttack(version="rand").generate(noisy_model_fn, x, y, threat)
    ```

    Before any component runs, `generate` checks each can on the model:
    APGD-T needs at least `max(4, target_classes + 1)` classes (its targeted
    DLR loss, and its targets), FAB-T `target_classes + 1`, APGD-DLR 3. On a
    model with fewer, leave the component out (`components=`) or pass fewer
    `target_classes`.

    Args:
        components: Which components of the version to run, in its order;
            all by default. The standard version's are `"apgd_ce"`,
            `"apgd_t"`, `"fab_t"` and `"square"`; `"rand"`'s are
            `"apgd_ce"` and `"apgd_dlr"`. A single name is one component.
        target_classes: Target classes of APGD-T and FAB-T (the
            highest-scoring other classes at the clean input), >= 1; the
            standard version's 9 needs a model with at least 10 classes.
        steps: Iterations of APGD and of DeepFool (ART) or FAB-T (native), >= 1.
        square_queries: Queries of the Square attack, >= 1.
        backend: `"native"` or `"art"` (standard version only).
        version: `"standard"` or `"rand"`.
        name: Key in reports.
    """

    needs_box = True

    def __init__(
        self,
        components=None,
        target_classes=9,
        steps=100,
        square_queries=5000,
        backend="native",
        version="standard",
        name=None,
    ):
        super().__init__(name=name)
        self.version = _validation.choice("version", version, tuple(VERSIONS))
        self.backend = _validation.choice("backend", backend, ("art", "native"))
        if backend == "art":
            if version != "standard":
                raise ValueError(
                    "AutoAttack(backend='art') runs the standard version only; "
                    "version='rand' runs natively. "
                    f"Received: version={version!r}, backend={backend!r}"
                )
            try:
                import art  # noqa: F401
            except ImportError:
                raise ImportError(_INSTALL) from None
        allowed = VERSIONS[version]
        components = allowed if components is None else components
        if isinstance(components, str):
            components = (components,)
        components = tuple(components) if isinstance(components, (list, tuple)) else components
        if (
            not isinstance(components, tuple)
            or not components
            or any(c not in allowed for c in components)
            or len(set(components)) != len(components)
        ):
            raise ValueError(
                f"Expected `components` to be distinct names from {list(allowed)} "
                f"(version={version!r}). Received: components={components!r}"
            )
        self.components = tuple(c for c in allowed if c in components)
        self.target_classes = _validation.integer("target_classes", target_classes, minimum=1)
        self.steps = _validation.integer("steps", steps, minimum=1)
        self.square_queries = _validation.integer("square_queries", square_queries, minimum=1)
        #: The warning flags the last `generate` raised.
        self.flags = []

    def check_classes(self, num_classes):
        """Raises, naming the way out, if a selected component cannot run on
        a model with `num_classes` classes."""
        failing = {
            c: need
            for c, need in _class_needs(self.components, self.target_classes).items()
            if num_classes < need[0]
        }
        if not failing:
            return
        reasons = "; ".join(
            f"{c!r} needs at least {fewest} ({why})" for c, (fewest, why) in failing.items()
        )
        # The selected components that can run, else the version's (APGD-CE
        # and Square always can).
        for candidates in (self.components, VERSIONS[self.version]):
            needs = _class_needs(candidates, self.target_classes)
            runnable = [c for c in candidates if num_classes >= needs.get(c, (0,))[0]]
            if runnable:
                break
        version = "" if self.version == "standard" else f"version={self.version!r}, "
        way_out = (
            f"Leave {'it' if len(failing) == 1 else 'them'} out, e.g. "
            f"AutoAttack({version}components={runnable!r})"
        )
        fewer = num_classes - 1
        rescued = [
            c
            for c, (fewest, _) in _class_needs(failing, max(fewer, 1)).items()
            if num_classes >= fewest
        ]
        if rescued:
            way_out += f", or pass target_classes={fewer} to run {' and '.join(map(repr, rescued))}"
        raise ValueError(
            f"AutoAttack cannot run {' and '.join(map(repr, failing))} on a model with "
            f"{num_classes} classes: {reasons}. {way_out}. "
            f"Received: a model with {num_classes} classes, components={list(self.components)}, "
            f"target_classes={self.target_classes}"
        )

    def _art_attacks(self, estimator, threat_model, batch_size, verbose):
        from art.attacks.evasion import AutoProjectedGradientDescent, DeepFool, SquareAttack

        norm, eps = (np.inf if threat_model.norm == "inf" else 2), threat_model.epsilon

        def apgd(loss_type, targeted=False):
            return AutoProjectedGradientDescent(
                estimator,
                norm=norm,
                eps=eps,
                eps_step=2 * eps,
                max_iter=self.steps,
                targeted=targeted,
                nb_random_init=1,
                batch_size=batch_size,
                loss_type=loss_type,
                verbose=verbose,
            )

        builders = {
            "apgd_ce": lambda: (apgd("cross_entropy"), False),
            "apgd_t": lambda: (apgd("difference_logits_ratio", targeted=True), True),
            "fab_t": lambda: (
                DeepFool(
                    estimator,
                    max_iter=self.steps,
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
                    max_iter=self.square_queries,
                    eps=eps,
                    p_init=0.8,
                    nb_restarts=1,
                    batch_size=batch_size,
                    verbose=verbose,
                ),
                False,
            ),
        }
        return {name: builders[name] for name in self.components}

    def _native(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        eot_samples = RAND_EOT_SAMPLES if self.version == "rand" else 1
        attacks = {
            "apgd_ce": lambda: apgd.APGDCE(steps=self.steps, eot_samples=eot_samples),
            "apgd_dlr": lambda: apgd.APGDDLR(steps=self.steps, eot_samples=eot_samples),
            "apgd_t": lambda: apgd.APGDT(steps=self.steps, target_classes=self.target_classes),
            "fab_t": lambda: fab.FABT(steps=self.steps, target_classes=self.target_classes),
            "square": lambda: square.Square(queries=self.square_queries),
        }

        predict = _runner.Predictor(model_fn, batch_size)

        def attack(name, index):
            attack = attacks[name]()
            candidate = attack.generate(
                model_fn,
                x[index],
                y[index],
                threat_model,
                seed=seed,
                batch_size=batch_size,
                verbose=verbose,
            )
            if getattr(attack, "zero_gradients", None):
                self._raise(checks.zero_gradients(*attack.zero_gradients))
            return candidate, predict(candidate) != y[index]

        robust = predict(x, check_finite=True) == y
        self._clean_accuracy = float(robust.mean())
        x_adv = x.copy()
        details = {}
        for name in self.components:
            start = time.perf_counter()
            index = _runner.attack_robust(robust, x_adv, lambda i, name=name: attack(name, i))
            details[name] = {
                "ran": _NATIVE_DESCRIPTIONS[name].format(self.target_classes)
                + (f", gradients averaged over {eot_samples} calls" if eot_samples > 1 else ""),
                "examples_attacked": len(index),
                "examples_broken": len(index) - int(robust[index].sum()),
                "robust_accuracy_after": float(robust.mean()),
                "seconds": time.perf_counter() - start,
            }
        self.details = details
        return x_adv

    def check_inputs(self, shape):
        if "square" in self.components and len(shape) != 4:
            raise ValueError(
                "The Square attack needs image batches (batch, height, width, channels); "
                "for other inputs leave it out with AutoAttack(components=...). "
                f"Received: x.shape={tuple(shape)}"
            )

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        self.flags = []
        probe = x[:batch_size]
        if self.version == "standard":
            self._raise(checks.randomized(model_fn, probe, y[:batch_size]))
        self._raise(checks.probability_outputs(model_fn, probe))
        self._raise(checks.dynamic(model_fn, probe))
        if self.backend == "native":
            x_adv = self._native(model_fn, x, y, threat_model, seed, batch_size, verbose)
        else:
            x_adv = self._art(model_fn, x, y, threat_model, seed, batch_size, verbose)
        after = {"clean": self._clean_accuracy}
        after.update({k: v["robust_accuracy_after"] for k, v in self.details.items()})
        self._raise(checks.square_success(after, len(x)))
        return x_adv

    def _raise(self, flag):
        if flag is not None:
            self.flags.append(flag)
            warnings.warn(flag["message"], UserWarning, stacklevel=5)

    def _art(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
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
        self._clean_accuracy = float(robust.mean())
        # Targets of APGD-T: the other classes by decreasing clean logit.
        targets = _runner.ranked_targets(logits, y, self.target_classes)
        x_adv = x.copy()
        details = {}
        attacks = self._art_attacks(estimator, threat_model, batch_size, bool(verbose))
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
                    "ran": _DESCRIPTIONS[name].format(self.target_classes),
                    "examples_attacked": attacked,
                    "examples_broken": attacked - int(robust.sum()),
                    "robust_accuracy_after": float(robust.mean()),
                    "seconds": time.perf_counter() - start,
                }
        self.details = details
        return x_adv

    def get_config(self):
        return {
            **super().get_config(),
            "components": list(self.components),
            "target_classes": self.target_classes,
            "steps": self.steps,
            "square_queries": self.square_queries,
            "backend": self.backend,
            "version": self.version,
        }

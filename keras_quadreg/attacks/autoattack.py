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

With either backend the components run in the standard order, each on
the examples still robust; an example is robust only if every component
fails on it (per-example worst case). With `backend="art"` the standard
set is `("apgd_ce", "apgd_t", "deepfool", "square")`: ART has no FAB, and
its DeepFool stands in for FAB-T under its own name in `components` and
`details`; `autoattack_art.py` describes what each component runs.
"""

import time
import warnings

from keras_quadreg import _validation
from keras_quadreg.attacks import _runner, apgd, autoattack_art, checks, fab, square
from keras_quadreg.attacks.base import Attack
from keras_quadreg.attacks.registry import register

STANDARD = ("apgd_ce", "apgd_t", "fab_t", "square")
#: The components of each version, in the order they run.
VERSIONS = {"standard": STANDARD, "rand": ("apgd_ce", "apgd_dlr")}
#: The components of the standard version with `backend="art"`.
ART_STANDARD = autoattack_art.STANDARD
#: Calls of the model each gradient of `version="rand"` averages over.
RAND_EOT_SAMPLES = checks.RAND_EOT_SAMPLES

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


@register("autoattack", "auto_attack")
class AutoAttack(Attack):
    """AutoAttack, run natively or with ART's attacks.

    The standard version runs APGD-CE, APGD-T, FAB-T and Square, in that
    order, each on the examples the previous ones did not break; the result
    is the per-example worst case. With `backend="native"` (the default)
    every component is this library's TensorFlow implementation; with
    `backend="art"` they are ART's, and ART's DeepFool, component
    `"deepfool"`, takes the place of FAB-T (FAB is not in ART 1.20.1).
    `version="rand"`, for randomized defenses, runs APGD-CE
    and APGD-DLR the same way, each gradient averaged over 20 calls of the
    model (native only). See the docstrings of the modules `autoattack` and
    `autoattack_art` for exactly what each component runs. After
    `generate`, `details` holds per component the examples it attacked and
    broke, the robust accuracy after it and its time, and `flags` the
    warning flags of the authors' code the run raised (`kq.attacks.checks`),
    each `{"check": name, "message": text}` and each also raised as a
    `UserWarning`.

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
            `"apgd_t"`, `"fab_t"` and `"square"` (with `backend="art"`:
            `"apgd_ce"`, `"apgd_t"`, `"deepfool"` and `"square"`);
            `"rand"`'s are `"apgd_ce"` and `"apgd_dlr"`. A single name is
            one component.
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
            autoattack_art.check_installed()
        allowed = self._version_components()
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
            of = f"version={version!r}" + (", backend='art'" if backend == "art" else "")
            raise ValueError(
                f"Expected `components` to be distinct names from {list(allowed)} ({of}). "
                f"Received: components={components!r}"
            )
        self.components = tuple(c for c in allowed if c in components)
        self.target_classes = _validation.integer("target_classes", target_classes, minimum=1)
        self.steps = _validation.integer("steps", steps, minimum=1)
        self.square_queries = _validation.integer("square_queries", square_queries, minimum=1)
        #: The warning flags the last `generate` raised.
        self.flags = []

    def _version_components(self):
        """The components of this version and backend, in the order they run."""
        return ART_STANDARD if self.backend == "art" else VERSIONS[self.version]

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
        for candidates in (self.components, self._version_components()):
            needs = _class_needs(candidates, self.target_classes)
            runnable = [c for c in candidates if num_classes >= needs.get(c, (0,))[0]]
            if runnable:
                break
        version = "" if self.version == "standard" else f"version={self.version!r}, "
        version += "backend='art', " if self.backend == "art" else ""
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
            x_adv, self.details, self._clean_accuracy = autoattack_art.run(
                model_fn,
                x,
                y,
                threat_model,
                components=self.components,
                target_classes=self.target_classes,
                steps=self.steps,
                square_queries=self.square_queries,
                seed=seed,
                batch_size=batch_size,
                verbose=verbose,
            )
        after = {"clean": self._clean_accuracy}
        after.update({k: v["robust_accuracy_after"] for k, v in self.details.items()})
        self._raise(checks.square_success(after, len(x)))
        return x_adv

    def _raise(self, flag):
        if flag is not None:
            self.flags.append(flag)
            warnings.warn(flag["message"], UserWarning, stacklevel=5)

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

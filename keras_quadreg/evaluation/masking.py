"""`check_gradient_masking`: the sanity checks of a gradient-based evaluation.

Gradient attacks report robustness that is not there when the model's
gradients are zero, noisy or misleading (Athalye et al. 2018; Carlini et
al. 2019, "On Evaluating Adversarial Robustness"; the flags of AutoAttack,
Croce & Hein 2020). Each check below compares attacks whose ordering is
known for a model with honest gradients, and fails with the numbers that
break that ordering.
"""

import dataclasses
import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from keras_quadreg import _collect, _validation, ops
from keras_quadreg import attacks as attacks_lib
from keras_quadreg.attacks._runner import Predictor
from keras_quadreg.evaluation.robustness import prepare_classifier, prepare_examples

#: A per-example input gradient whose l_1 norm is at most this is zero.
ZERO_GRADIENT = 1e-8

_EPSILON_FRACTIONS = (0.25, 0.5, 1.0)


@dataclasses.dataclass
class MaskingCheck:
    """One check: whether it passed, the numbers behind it, and why it matters.

    Attributes:
        name: Identifier of the check.
        passed: False means the check flags possible gradient masking.
        values: The measured numbers the verdict is based on.
        explanation: One sentence stating the comparison and its meaning.
    """

    name: str
    passed: bool
    values: dict
    explanation: str


@dataclasses.dataclass
class MaskingReport:
    """The outcome of `check_gradient_masking`.

    Attributes:
        checks: The `MaskingCheck`s, in the order they ran.
        threat_model: `{"norm", "epsilon", "clip_min", "clip_max"}`.
        num_examples: Number of examples checked.
        seed: Seed of every attack.
        tolerance: Accuracy difference treated as noise.
    """

    checks: list
    threat_model: dict
    num_examples: int
    seed: int
    tolerance: float

    @property
    def passed(self):
        """Whether no check flags gradient masking."""
        return all(c.passed for c in self.checks)

    @property
    def flagged(self):
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]

    def __getitem__(self, name):
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"No check named {name!r}. Checks: {[c.name for c in self.checks]}")

    def to_dict(self):
        return {
            "passed": self.passed,
            "threat_model": self.threat_model,
            "num_examples": self.num_examples,
            "seed": self.seed,
            "tolerance": self.tolerance,
            "checks": [dataclasses.asdict(c) for c in self.checks],
        }

    def to_json(self, path=None):
        """Writes the report as JSON to `path` (if given) and returns the text."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            pathlib.Path(path).write_text(text)
        return text

    def to_markdown(self):
        t = self.threat_model
        verdict = (
            "no sign of gradient masking"
            if self.passed
            else (f"{len(self.flagged)} check(s) flag possible gradient masking")
        )
        lines = [
            "## Gradient-masking checks",
            "",
            f"{t['norm']} ball, epsilon = {t['epsilon']:g}; {self.num_examples} examples, "
            f"seed {self.seed}, tolerance {self.tolerance:g}: {verdict}.",
            "",
            "| check | result | explanation |",
            "| --- | --- | --- |",
        ]
        for c in self.checks:
            lines.append(f"| {c.name} | {'pass' if c.passed else '**FLAG**'} | {c.explanation} |")
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()


def _percent(value):
    return f"{100 * value:.1f} %"


def _robust_accuracy(attack, predict, x, y, clean, threat, run, target_fn):
    """Accuracy on `attack`'s examples crafted on `target_fn` (the model
    itself, or a surrogate for transfer)."""
    x_adv = attack.generate(target_fn, x, y, threat, **run)
    adversarial = predict(x_adv, check_finite=True, what=f"adversarial examples of {attack.name}")
    return float(np.mean(clean & (adversarial == y)))


def _margin_gradient_norms(model_fn, x, y, batch_size):
    """Per-example l_1 norms of the input gradient of the logit margin
    `max_{j != y} z_j - z_y`, which, unlike the cross-entropy, does not
    saturate for confidently classified examples."""

    @tf.function(reduce_retracing=True)
    def norms(x, y):
        def margin(x):
            logits = model_fn(x)
            true = tf.gather(logits, y, batch_dims=1)
            other = tf.reduce_max(logits - 1e9 * tf.one_hot(y, tf.shape(logits)[-1]), axis=-1)
            return other - true

        _, gradient = ops.input_gradient(margin, x)
        return tf.reduce_sum(tf.abs(gradient), axis=list(range(1, x.shape.rank)))

    return np.concatenate(
        [
            norms(tf.constant(x[i : i + batch_size]), tf.constant(y[i : i + batch_size])).numpy()
            for i in range(0, len(x), batch_size)
        ]
    )


def _large_epsilon(threat, x):
    """A radius whose ball covers the whole input box (10 epsilon without a box)."""
    if not threat.has_box:
        return 10.0 * threat.epsilon
    width = threat.clip_max - threat.clip_min
    return width if threat.norm == "inf" else width * float(np.sqrt(np.prod(x.shape[1:])))


def _surrogate(x, y, num_classes, seed, epochs, batch_size):
    """A classifier trained from scratch on `(x, y)`, seeded, sharing nothing
    with the model under test."""
    init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)
    inputs = keras.Input(x.shape[1:])
    h = inputs
    if x.ndim == 4:
        h = keras.layers.Conv2D(
            16, 5, padding="same", activation="relu", kernel_initializer=init(0)
        )(h)
        h = keras.layers.MaxPooling2D(2)(h)
        h = keras.layers.Conv2D(
            32, 5, padding="same", activation="relu", kernel_initializer=init(1)
        )(h)
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(128, activation="relu", kernel_initializer=init(2))(h)
    outputs = keras.layers.Dense(num_classes, kernel_initializer=init(3))(h)
    model = keras.Model(inputs, outputs, name="surrogate")
    model.compile(
        keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, batch_size=min(batch_size, 64), epochs=epochs, shuffle=False, verbose=0)
    return model


def check_gradient_masking(
    model,
    data,
    epsilon,
    norm="inf",
    *,
    num_examples=None,
    steps=20,
    restarts=3,
    spsa=None,
    spsa_examples=100,
    surrogate=None,
    surrogate_data=None,
    surrogate_epochs=10,
    tolerance=0.03,
    batch_size=128,
    seed=0,
    clip_min=0.0,
    clip_max=1.0,
    from_logits=None,
    verbose=0,
):
    """Checks that a gradient-based robustness evaluation can be trusted.

    Runs the sanity checks of Athalye et al. (2018) and Carlini et al.
    (2019), each a comparison that holds for a model with informative
    gradients, with `tolerance` of slack for sampling noise:

    - `deterministic`, `logit_outputs`, `static_model`: the checks of the
      authors' AutoAttack code (`kq.attacks.checks`, with its thresholds)
      that concern gradients: the model's outputs do not change between
      calls on the same inputs (else its gradients are noisy), they are
      logits, not probabilities (whose logarithm saturates), and the model
      computes no gradients while computing its outputs (a test-time
      optimization defense, which gradient attacks do not see through).
    - `gradients_nonzero`: the input gradients of the logit margin are not
      zero (at most `tolerance` of the examples have
      `||grad||_1 <= kq.evaluation.masking.ZERO_GRADIENT`).
    - `iterative_vs_single_step`: PGD is at least as strong as FGSM.
    - `white_box_vs_transfer`: PGD is at least as strong as PGD examples
      crafted on an independently trained surrogate and transferred.
    - `white_box_vs_gradient_free`: PGD is at least as strong as SPSA (on
      the first `spsa_examples` examples).
    - `monotone_in_epsilon`: PGD accuracy does not rise with epsilon (at
      0.25, 0.5 and 1 times `epsilon`, then the large epsilon below).
    - `unbounded_reaches_zero`: PGD with a ball covering the whole input
      box (10 `epsilon` without a box) brings accuracy to at most
      `tolerance`.
    - `converged_in_steps`: PGD with 5 times the steps and `restarts`
      restarts is not stronger than PGD by more than `tolerance`.

    Example:

    ```python
    masking = kq.check_gradient_masking(model, test_ds, epsilon=0.3, num_examples=500)
    print(masking.to_markdown())
    for check in masking.flagged:
        print(check.name, check.explanation)
    ```

    Args:
        model: A Keras classifier (or a callable from inputs to scores).
        data: A `tf.data.Dataset` of `(x, y)` or a pair of arrays `(x, y)`.
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        num_examples: Check the first `num_examples` examples; None takes all.
        steps: Steps of the PGD attack that is checked.
        restarts: Restarts of the stronger PGD of `converged_in_steps`.
        spsa: The gradient-free attack, a `kq.attacks.SPSA`; defaults to
            `kq.attacks.SPSA()`.
        spsa_examples: Examples SPSA runs on (it is the slowest check).
        surrogate: An independently trained Keras classifier outputting
            logits for the transfer check; None trains a small one on
            `surrogate_data`.
        surrogate_data: Training data of the default surrogate, like
            `data`; None uses the examples being checked.
        surrogate_epochs: Training epochs of the default surrogate.
        tolerance: Accuracy difference (a fraction) treated as noise.
        batch_size: Examples attacked together.
        seed: Seed of the attacks and of the default surrogate.
        clip_min: Lower bound of valid inputs, or None for no box.
        clip_max: Upper bound of valid inputs, or None.
        from_logits: Whether `model` outputs logits; None infers it.
        verbose: 1 shows progress of the attacks.

    Returns:
        A `kq.evaluation.MaskingReport`; `report.passed` is False if any
        check flags masking, and `report.flagged` lists those checks.
    """
    threat = ops.threat_model(epsilon, norm, clip_min, clip_max)
    steps = _validation.integer("steps", steps, minimum=1)
    restarts = _validation.integer("restarts", restarts, minimum=1)
    spsa_examples = _validation.integer("spsa_examples", spsa_examples, minimum=1)
    surrogate_epochs = _validation.integer("surrogate_epochs", surrogate_epochs, minimum=1)
    tolerance = _validation.non_negative_number("tolerance", tolerance)
    if tolerance >= 1:
        raise ValueError(
            f"Expected `tolerance` to be a fraction in [0, 1). Received: tolerance={tolerance!r}"
        )
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    seed = _validation.integer("seed", seed)
    _validation.finite_weights(model)
    spsa = attacks_lib.SPSA() if spsa is None else spsa
    if not isinstance(spsa, attacks_lib.Attack) or not spsa.gradient_free:
        raise ValueError(
            f"Expected `spsa` to be a gradient-free kq.attacks.Attack. Received: spsa={spsa!r}"
        )
    if surrogate is not None and not callable(surrogate):
        raise ValueError(
            f"Expected `surrogate` to be a Keras model or None. Received: surrogate={surrogate!r}"
        )
    _validation.verbose(verbose)

    x, y = prepare_examples(data, num_examples, model, threat)
    model_fn, _, num_classes = prepare_classifier(model, from_logits, x, y, batch_size)
    if surrogate is None:
        surrogate_examples = (
            (x, y) if surrogate_data is None else _collect.collect(surrogate_data, None, model)
        )
    run = _Run(
        model_fn,
        x,
        y,
        threat,
        attacks_lib.PGD(steps=steps),
        tolerance,
        dict(seed=seed, batch_size=batch_size, verbose=verbose),
    )

    checks = _autoattack_checks(run, batch_size)
    checks.append(_gradients_nonzero(run, batch_size))
    curve = {
        fraction: run.accuracy(run.pgd, run.at(fraction * epsilon))
        for fraction in _EPSILON_FRACTIONS
    }
    checks.append(_iterative_vs_single_step(run, curve[1.0]))
    if surrogate is None:
        surrogate = _surrogate(*surrogate_examples, num_classes, seed, surrogate_epochs, batch_size)
    checks.append(_white_box_vs_transfer(run, curve[1.0], surrogate))
    checks.append(_white_box_vs_gradient_free(run, spsa, spsa_examples))
    checks.extend(_epsilon_checks(run, curve, epsilon))
    checks.append(_converged_in_steps(run, curve[1.0], restarts))
    return MaskingReport(checks, threat.get_config(), len(x), seed, tolerance)


class _Run:
    """What every check reads: the model, the examples, their clean
    correctness, the threat model, and the PGD attack being checked."""

    def __init__(self, model_fn, x, y, threat, pgd, tolerance, settings):
        self.model_fn, self.x, self.y, self.threat = model_fn, x, y, threat
        self.pgd, self.tolerance, self.settings = pgd, tolerance, settings
        self.pgd_name = f"PGD-{pgd.steps}"
        self.predict = Predictor(model_fn, settings["batch_size"])
        self.clean = self.predict(x, check_finite=True) == y

    def at(self, epsilon):
        """The threat model with another `epsilon`."""
        threat = self.threat
        return ops.threat_model(epsilon, threat.norm, threat.clip_min, threat.clip_max)

    def accuracy(self, attack, threat=None, n=None, target_fn=None):
        """Robust accuracy under `attack` on the first `n` examples, crafted
        on `target_fn` (default: the model itself)."""
        n = len(self.x) if n is None else n
        return _robust_accuracy(
            attack,
            self.predict,
            self.x[:n],
            self.y[:n],
            self.clean[:n],
            self.threat if threat is None else threat,
            self.settings,
            self.model_fn if target_fn is None else target_fn,
        )


def _check(name, flagged, values, finding, meaning, joiner="; "):
    """A `MaskingCheck` whose explanation is `finding`, then, when the check
    flags masking, what that means."""
    return MaskingCheck(name, not flagged, values, finding + (joiner + meaning if flagged else "."))


def _autoattack_checks(run, batch_size):
    """`deterministic`, `logit_outputs` and `static_model`: AutoAttack's flags
    that concern gradients, as checks that pass when the flag is not raised."""
    x, y = run.x[:batch_size], run.y[:batch_size]
    found = {
        "deterministic": (
            attacks_lib.checks.randomized(run.model_fn, x, y),
            "The model's outputs are the same in 5 calls on the same inputs.",
        ),
        "logit_outputs": (
            attacks_lib.checks.probability_outputs(run.model_fn, x),
            "The model's outputs are logits, not probabilities.",
        ),
        "static_model": (
            attacks_lib.checks.dynamic(run.model_fn, x),
            "The model computes no gradients while computing its outputs.",
        ),
    }
    return [
        MaskingCheck(
            name,
            flag is None,
            {"flag": None if flag is None else flag["check"]},
            passing if flag is None else flag["message"],
        )
        for name, (flag, passing) in found.items()
    ]


def _gradients_nonzero(run, batch_size):
    gradient_norms = _margin_gradient_norms(run.model_fn, run.x, run.y, batch_size)
    zero = float(np.mean(gradient_norms <= ZERO_GRADIENT))
    return _check(
        "gradients_nonzero",
        zero > run.tolerance,
        {"zero_gradient_fraction": zero, "median_gradient_l1": float(np.median(gradient_norms))},
        f"{_percent(zero)} of the examples have a zero input gradient of the logit margin",
        "gradient attacks have no direction to follow there (non-differentiable or "
        "saturating operations), so their failure says nothing about robustness.",
        joiner=": ",
    )


def _iterative_vs_single_step(run, white_box):
    fgsm = run.accuracy(attacks_lib.FGSM())
    return _check(
        "iterative_vs_single_step",
        white_box > fgsm + run.tolerance,
        {"pgd_accuracy": white_box, "fgsm_accuracy": fgsm},
        f"{run.pgd_name} leaves {_percent(white_box)} accuracy, FGSM {_percent(fgsm)}",
        "a single step beating an iterative attack means the gradient misleads the "
        "iterations (masking).",
    )


def _white_box_vs_transfer(run, white_box, surrogate):
    surrogate_fn, _ = attacks_lib.logits_function(surrogate, True)
    transfer = run.accuracy(run.pgd, target_fn=surrogate_fn)
    return _check(
        "white_box_vs_transfer",
        white_box > transfer + run.tolerance,
        {"pgd_accuracy": white_box, "transfer_accuracy": transfer},
        f"White-box {run.pgd_name} leaves {_percent(white_box)}, {run.pgd_name} transferred "
        f"from an independently trained surrogate {_percent(transfer)}",
        "examples crafted without the model's gradients do better than with them, "
        "so its gradients are uninformative.",
    )


def _white_box_vs_gradient_free(run, spsa, spsa_examples):
    n = min(spsa_examples, len(run.x))
    gradient_free = run.accuracy(spsa, n=n)
    white_box = run.accuracy(run.pgd, n=n)
    return _check(
        "white_box_vs_gradient_free",
        white_box > gradient_free + run.tolerance,
        {"pgd_accuracy": white_box, "spsa_accuracy": gradient_free, "examples": n},
        f"On {n} examples {run.pgd_name} leaves {_percent(white_box)}, gradient-free SPSA "
        f"{_percent(gradient_free)}",
        "an attack that never differentiates the model beats one that does: its "
        "gradients are masked.",
    )


def _epsilon_checks(run, curve, epsilon):
    """`monotone_in_epsilon` and `unbounded_reaches_zero`, which share the
    run at a ball covering every valid input."""
    large = _large_epsilon(run.threat, run.x)
    unbounded = run.accuracy(run.pgd, run.at(large))
    points = [(fraction * epsilon, curve[fraction]) for fraction in _EPSILON_FRACTIONS]
    points.append((large, unbounded))
    rises = [
        (e0, a0, e1, a1)
        for (e0, a0), (e1, a1) in zip(points, points[1:])
        if a1 > a0 + run.tolerance
    ]
    monotone = MaskingCheck(
        "monotone_in_epsilon",
        not rises,
        {"epsilons": [e for e, _ in points], "pgd_accuracy": [a for _, a in points]},
        (
            f"{run.pgd_name} accuracy rises from {_percent(rises[0][1])} at epsilon "
            f"{rises[0][0]:g} to {_percent(rises[0][3])} at {rises[0][2]:g}: a larger ball "
            "contains the smaller one, so the attack is failing to optimize."
        )
        if rises
        else f"{run.pgd_name} accuracy does not rise with epsilon: "
        + ", ".join(f"{_percent(a)} at {e:g}" for e, a in points)
        + ".",
    )
    reaches_zero = _check(
        "unbounded_reaches_zero",
        unbounded > run.tolerance,
        {"epsilon": large, "pgd_accuracy": unbounded},
        f"With epsilon = {large:g}, a ball covering every valid input, {run.pgd_name} leaves "
        f"{_percent(unbounded)} accuracy",
        "any input can be turned into one of another class there, so an attack that "
        "cannot reach about 0 % is not optimizing.",
    )
    return [monotone, reaches_zero]


def _converged_in_steps(run, white_box, restarts):
    steps = 5 * run.pgd.steps
    stronger = run.accuracy(attacks_lib.PGD(steps=steps, restarts=restarts))
    return _check(
        "converged_in_steps",
        stronger < white_box - run.tolerance,
        {
            "pgd_accuracy": white_box,
            "stronger_pgd_accuracy": stronger,
            "stronger_steps": steps,
            "stronger_restarts": restarts,
        },
        f"{run.pgd_name} leaves {_percent(white_box)}, PGD-{steps} with {restarts} restarts "
        f"{_percent(stronger)}",
        "accuracy keeps falling with more effort, so the evaluation has not converged: "
        "use a stronger attack, and suspect noisy or randomized gradients.",
    )

"""`evaluate_robustness`: clean and robust accuracy under several attacks."""

import contextlib
import time

import tensorflow as tf

from keras_quadreg import _collect, _deprecation, _validation, ops
from keras_quadreg import attacks as attacks_lib
from keras_quadreg._version import __version__
from keras_quadreg.attacks import base
from keras_quadreg.attacks._runner import Predictor
from keras_quadreg.evaluation.report import AttackResult, RobustnessReport

_RESERVED = ("clean", "worst_case")


def _versions():
    import importlib.metadata

    out = {"keras_quadreg": __version__}
    for package in ("tensorflow", "keras", "cleverhans", "adversarial-robustness-toolbox"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[package] = importlib.metadata.version(package)
    return out


def resolve_attacks(attacks):
    """`Attack` objects from names, classes or objects, with distinct names."""
    if isinstance(attacks, (str, type, attacks_lib.Attack, dict)):
        attacks = [attacks]
    if not isinstance(attacks, (list, tuple)) or not attacks:
        raise ValueError(
            f"Expected `attacks` to be a non-empty list of attacks. Received: attacks={attacks!r}"
        )
    resolved = [attacks_lib.get(a) for a in attacks]
    names = [a.name for a in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(
            "Expected attacks with distinct names (pass `name=` to tell them apart). "
            f"Received: duplicate names {duplicates}"
        )
    reserved = [n for n in names if n in _RESERVED]
    if reserved:
        raise ValueError(
            f"Expected attack names other than {list(_RESERVED)}. Received: name={reserved[0]!r}"
        )
    return resolved


def prepare_examples(data, num_examples, model, threat_model):
    """The examples every evaluation runs on: collected from `data`, and
    checked to lie in the threat model's box.

    Returns:
        `(x, y)`: float32 inputs and int64 class indices.
    """
    x, y = _collect.collect(data, num_examples, model)
    base.check_in_box(x, threat_model)
    return x, y


def prepare_classifier(model, from_logits, x, y, batch_size):
    """`(model_fn, from_logits, num_classes)` of `model` on the examples
    `x, y`, after checking the labels are classes it outputs."""
    model_fn, from_logits = attacks_lib.logits_function(model, from_logits, x[:batch_size])
    num_classes = int(model_fn(tf.constant(x[:1])).shape[-1])
    base.check_labels_in_range(y, num_classes)
    return model_fn, from_logits, num_classes


def evaluate_robustness(
    model,
    data,
    epsilon,
    norm="inf",
    attacks=("fgsm", "pgd"),
    *,
    num_examples=None,
    batch_size=128,
    seed=0,
    clip_min=0.0,
    clip_max=1.0,
    from_logits=None,
    verbose=1,
):
    """Clean accuracy, robust accuracy per attack and their per-example worst case.

    Runs each attack on the same examples, projects its results into the
    threat model, and classifies them. An example counts as robust to an
    attack if it is classified correctly clean and attacked; the worst case
    counts the examples robust to every attack.

    Example:

    ```python
    report = kq.evaluate_robustness(model, test_ds, epsilon=0.3, norm="inf",
                                    attacks=["fgsm", "pgd", "mim", "cw", "spsa", "autoattack"],
                                    num_examples=1000, seed=0)
    print(report.to_markdown())
    ```

    Args:
        model: A Keras classifier (or a callable from inputs to class scores).
        data: A `tf.data.Dataset` of `(x, y)` (batched or not) or a pair of
            arrays `(x, y)`; labels are class indices or one-hot rows.
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        attacks: Names (`kq.attacks.names()`), `kq.attacks.Attack` classes or
            configured objects.
        num_examples: Evaluate the first `num_examples` examples; None takes
            all of `data`.
        batch_size: Examples attacked together.
        seed: Seed of every attack's randomness.
        clip_min: Lower bound of valid inputs, or None for no box.
        clip_max: Upper bound of valid inputs, or None.
        from_logits: Whether the model outputs logits; None infers it (see
            `kq.attacks.logits_function`).
        verbose: 1 shows progress per attack, 0 is silent.

    Returns:
        A `kq.evaluation.RobustnessReport`.
    """
    threat = ops.threat_model(epsilon, norm, clip_min, clip_max)
    resolved = resolve_attacks(attacks)
    seed = _validation.integer("seed", seed)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    _validation.verbose(verbose)
    _validation.finite_weights(model)
    x, y = prepare_examples(data, num_examples, model, threat)
    model_fn, from_logits, num_classes = prepare_classifier(model, from_logits, x, y, batch_size)
    for attack in resolved:  # before any attack runs
        attack.check_classes(num_classes)
        attack.check_inputs(x.shape)
    return _evaluate(model_fn, from_logits, x, y, threat, resolved, seed, batch_size, verbose)


def _evaluate(model_fn, from_logits, x, y, threat, attacks, seed, batch_size, verbose):
    predict = Predictor(model_fn, batch_size)
    predict(x[:batch_size])  # traces, so the clean time is one pass
    start = time.perf_counter()
    clean_correct = predict(x, check_finite=True) == y
    clean_seconds = time.perf_counter() - start
    worst = clean_correct.copy()
    results = {}
    for attack in attacks:
        if verbose:
            print(f"{attack.name} ({threat.norm}, epsilon={threat.epsilon:g}):")
        start = time.perf_counter()
        x_adv = attack.generate(
            model_fn, x, y, threat, seed=seed, batch_size=batch_size, verbose=verbose
        )
        adversarial = predict(
            x_adv, check_finite=True, what=f"adversarial examples of {attack.name}"
        )
        correct = clean_correct & (adversarial == y)
        results[attack.name] = AttackResult(
            name=attack.name,
            accuracy=float(correct.mean()),
            correct=correct,
            seconds=time.perf_counter() - start,
            seed=seed,
            config={"class_name": type(attack).__name__, **attack.get_config()},
            details=attack.details,
            flags=None if getattr(attack, "flags", None) is None else list(attack.flags),
        )
        worst &= correct

    def rerun(epsilon, verbose):
        other = ops.threat_model(epsilon, threat.norm, threat.clip_min, threat.clip_max)
        return _evaluate(model_fn, from_logits, x, y, other, attacks, seed, batch_size, verbose)

    return RobustnessReport(
        threat_model=threat.get_config(),
        num_examples=len(x),
        seed=seed,
        from_logits=from_logits,
        clean_accuracy=float(clean_correct.mean()),
        clean_correct=clean_correct,
        clean_seconds=clean_seconds,
        attacks=results,
        worst_case_accuracy=float(worst.mean()),
        worst_case_correct=worst,
        versions=_versions(),
        _rerun=rerun,
    )


__getattr__ = _deprecation.moved_attributes(
    __name__, {"LabelPredictor": "keras_quadreg.attacks._runner.Predictor"}
)

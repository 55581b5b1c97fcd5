"""AutoAttack's warning flags: the checks of the authors' `checks.py`
(fra31/auto-attack), with their thresholds.

Each check returns None when it finds nothing, else a flag
`{"check": name, "message": text}`; `kq.attacks.AutoAttack` raises each
flag it finds as a `UserWarning` and keeps them in its `flags`.

- `randomized`: five calls of the model on the same inputs give outputs
  (normalized to unit l_2 norm) more than 1e-4 apart in l_2 norm, or a
  different number of correct predictions.
- `probability_outputs`: every output is in [0, 1] and every row sums to 1,
  each within 1e-5, or the model was wrapped by
  `kq.attacks.logits_function` as one that outputs probabilities.
- `zero_gradients`: examples whose gradient of a DLR loss is exactly zero
  at the random start of APGD (APGD-T, APGD-DLR).
- `square_success`: Square broke more than 0.2 % of the examples after the
  white-box components.
- `dynamic`: the model computes gradients while computing its outputs (a
  test-time optimization defense), seen by tracing one call of it.

The code's sixth check, too few classes for a DLR loss or for the target
classes of APGD-T and FAB-T, is an error here, not a flag:
`kq.attacks.AutoAttack.check_classes` refuses such a run before any attack.
"""

import sys

import numpy as np
import tensorflow as tf

#: Calls of the model each gradient of AutoAttack's `version="rand"` averages over.
RAND_EOT_SAMPLES = 20

#: Documentation of the flags, which every message points to.
_SEE = "See the documentation of kq.attacks.checks."

# TensorFlow functions that compute gradients, by code name and file.
_GRADIENT_CODE = {
    ("backprop.py", "gradient"),
    ("backprop.py", "jacobian"),
    ("backprop.py", "batch_jacobian"),
    ("gradients_impl.py", "gradients"),
    ("gradients_impl.py", "gradients_v2"),
}


def _flag(check, message):
    return {"check": check, "message": f"{message} {_SEE}"}


def randomized(model_fn, x, y, calls=5, tolerance=1e-4):
    """Flags a model whose outputs change between calls on the same inputs.

    Example:

    ```python
    flag = kq.attacks.checks.randomized(model_fn, x[:128], y[:128])
    ```

    Args:
        model_fn: Callable from a batch of inputs to class scores.
        x: Inputs, an array `(n, ...)`.
        y: True classes `(n,)`.
        calls: Calls of `model_fn` to compare.
        tolerance: Largest l_2 distance between unit-normalized outputs
            of one example that counts as equal.

    Returns:
        A flag, or None.
    """
    outputs, correct = [], []
    for _ in range(calls):
        scores = np.asarray(model_fn(tf.constant(x)), np.float64)
        correct.append(int(np.sum(np.argmax(scores, -1) == y)))
        outputs.append(scores / (np.linalg.norm(scores, axis=-1, keepdims=True) + 1e-10))
    spread = max(
        float(np.linalg.norm(a - b, axis=-1).max())
        for i, a in enumerate(outputs)
        for b in outputs[i + 1 :]
    )
    if spread <= tolerance and len(set(correct)) == 1:
        return None
    return _flag(
        "randomized",
        f"The model's outputs differ between {calls} calls on the same inputs (by up to "
        f"{spread:.3g} after normalization; correct predictions: {correct}): it looks "
        "randomized, and the standard AutoAttack can overestimate the robustness of a "
        "randomized model. Use AutoAttack(version='rand'), which averages every gradient "
        f"over {RAND_EOT_SAMPLES} calls.",
    )


def probability_outputs(model_fn, x, tolerance=1e-5):
    """Flags a model whose outputs are probabilities rather than logits.

    Example:

    ```python
    flag = kq.attacks.checks.probability_outputs(model_fn, x[:128])
    ```

    Args:
        model_fn: Callable from a batch of inputs to class scores; a
            function from `kq.attacks.logits_function` that takes the
            logarithm of a model's probabilities is flagged too.
        x: Inputs, an array `(n, ...)`.
        tolerance: Slack on the range [0, 1] and on the sums to 1.

    Returns:
        A flag, or None.
    """
    if getattr(model_fn, "takes_log_of_probabilities", False):
        return _flag(
            "probability_outputs",
            "The model outputs probabilities, which are attacked through their logarithm: "
            "where the softmax saturates, the gradients of its logarithm vanish in float32 and "
            "the attacks can fail without the model being robust. Evaluate the logits.",
        )
    scores = np.asarray(model_fn(tf.constant(x)), np.float64)
    if (
        scores.max() < 1.0 + tolerance
        and scores.min() > -tolerance
        and np.all(np.abs(scores.sum(-1) - 1.0) < tolerance)
    ):
        return _flag(
            "probability_outputs",
            "The model's outputs look like probabilities (each in [0, 1], each row summing "
            "to 1): the attacks expect logits. Evaluate the logits.",
        )
    return None


def zero_gradients(count, total):
    """Flags examples whose attack gradient is exactly zero.

    Example:

    ```python
    flag = kq.attacks.checks.zero_gradients(3, 500)
    ```

    Args:
        count: Examples with an all-zero gradient.
        total: Examples checked.

    Returns:
        A flag, or None when `count` is 0.
    """
    if count == 0:
        return None
    return _flag(
        "zero_gradients",
        f"{count} of {total} examples have a zero gradient of the DLR loss at the random "
        "start: gradient attacks have no direction there, and the evaluation can be "
        "unreliable.",
    )


def square_success(robust_accuracy_after, num_examples, threshold=0.002):
    """Flags Square breaking examples the white-box components did not.

    Example:

    ```python
    flag = kq.attacks.checks.square_success(
        {"clean": 0.99, "apgd_ce": 0.87, "apgd_t": 0.87, "fab_t": 0.87, "square": 0.864}, 500)
    ```

    Args:
        robust_accuracy_after: `{"clean": accuracy, component: robust
            accuracy after it, ...}` in the order the components ran.
        num_examples: Examples evaluated.
        threshold: Fraction of the examples Square may break.

    Returns:
        A flag, or None (also when Square or any other component did not run).
    """
    if "square" not in robust_accuracy_after or len(robust_accuracy_after) <= 2:
        return None
    before = min(v for k, v in robust_accuracy_after.items() if k != "square")
    # Counts, not accuracies: exactly `threshold` of the examples does not flag.
    broken = round((before - robust_accuracy_after["square"]) * num_examples)
    if broken <= threshold * num_examples:
        return None
    return _flag(
        "square_success",
        f"Square broke {broken} of {num_examples} examples ({100 * broken / num_examples:.1f} "
        "%) that the white-box components did not: the gradients may be masked, and the "
        "robust accuracy may be lower than measured. Run Square with more queries and "
        "restarts, or an adaptive attack.",
    )


def dynamic(model_fn, x):
    """Flags a model that computes gradients while computing its outputs.

    Traces one eager call of `model_fn` for calls of TensorFlow's gradient
    functions (`GradientTape.gradient`, `jacobian`, `tf.gradients`). A model
    compiled into a `tf.function` that is already traced runs no Python
    and is not seen.

    Example:

    ```python
    flag = kq.attacks.checks.dynamic(model_fn, x[:8])
    ```

    Args:
        model_fn: Callable from a batch of inputs to class scores.
        x: Inputs, an array `(n, ...)`.

    Returns:
        A flag, or None.
    """
    seen = []

    def trace(frame, event, arg):
        code = frame.f_code
        where = (code.co_filename.rsplit("/", 1)[-1], code.co_name)
        if event == "call" and where in _GRADIENT_CODE:
            seen.append(code.co_name)

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        model_fn(tf.constant(x))
    finally:
        sys.settrace(previous)
    if not seen:
        return None
    return _flag(
        "dynamic",
        "The model computes gradients while computing its outputs "
        f"({', '.join(sorted(set(seen)))}): "
        "it looks like a dynamic (test-time optimization) defense, which AutoAttack alone "
        "may not evaluate reliably. Use an adaptive attack.",
    )

"""Up-front argument checks shared by the public API.

Every check raises `ValueError` (or `TypeError` for a wrong type) whose
message says what was expected and ends with `Received: name=value`, the
convention of Keras itself.
"""

import math
import numbers

import numpy as np

NORMS = ("inf", 2)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_number(name, value, *, allow_zero=False):
    """Returns `value` as a float after checking it is a finite number > 0."""
    ok = _is_real(value) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"Expected `{name}` to be a finite {bound} number. Received: {name}={value!r}"
        )
    return float(value)


def non_negative_number(name, value):
    return positive_number(name, value, allow_zero=True)


def integer(name, value, *, minimum=0):
    """Returns `value` after checking it is an integer >= `minimum`."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"Expected `{name}` to be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def boolean(name, value):
    """Returns `value` after checking it is a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"Expected `{name}` to be True or False. Received: {name}={value!r}")
    return value


def flag(name, value):
    """Returns `value` after checking it is a bool: `boolean` in the wording
    the attacks', objectives' and saliency methods' options have always had."""
    if not isinstance(value, bool):
        raise ValueError(f"Expected `{name}` to be a bool. Received: {name}={value!r}")
    return value


def verbose(value):
    """Returns a progress-bar `verbose` after checking it is 0 or 1."""
    if value not in (0, 1):
        raise ValueError(f"Expected `verbose` to be 0 or 1. Received: verbose={value!r}")
    return value


def choice(name, value, options):
    """Returns `value` after checking it is one of `options`."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(
            f"Expected `{name}` to be one of {list(options)}. Received: {name}={value!r}"
        )
    return value


def norm(value, name="norm"):
    """Normalizes a threat-model norm to `"inf"` or `2`.

    Accepts `"inf"`, `np.inf`, `2` and `"2"`.
    """
    if isinstance(value, str) and value.lower() in ("inf", "linf"):
        return "inf"
    if _is_real(value) and value == np.inf:
        return "inf"
    if isinstance(value, str) and value.lower() in ("2", "l2"):
        return 2
    if _is_real(value) and value == 2:
        return 2
    raise ValueError(f'Expected `{name}` to be "inf" (or np.inf) or 2. Received: {name}={value!r}')


def box(clip_min, clip_max):
    """Checks an optional input box; both bounds or neither."""
    if (clip_min is None) != (clip_max is None):
        raise ValueError(
            "Expected `clip_min` and `clip_max` to be both set or both None. "
            f"Received: clip_min={clip_min!r}, clip_max={clip_max!r}"
        )
    if clip_min is None:
        return None, None
    for name, value in (("clip_min", clip_min), ("clip_max", clip_max)):
        if not (_is_real(value) and math.isfinite(value)):
            raise ValueError(
                f"Expected `{name}` to be a finite number or None. Received: {name}={value!r}"
            )
    if not clip_min < clip_max:
        raise ValueError(
            "Expected `clip_min` < `clip_max`. "
            f"Received: clip_min={clip_min!r}, clip_max={clip_max!r}"
        )
    return float(clip_min), float(clip_max)


def options(values, defaults, what):
    """`defaults` updated by `values`, the `**kwargs` of a function that
    passes the options on; a name not in `defaults` is a `TypeError`, as
    Python raises for a keyword argument a signature does not name."""
    unknown = [name for name in values if name not in defaults]
    if unknown:
        raise TypeError(
            f"Got an unexpected keyword argument `{unknown[0]}`: expected {what}, one of "
            f"{', '.join(defaults)}. Received: {unknown[0]}={values[unknown[0]]!r}"
        )
    return {**defaults, **values}


def seed(value, name="seed"):
    """Checks an optional integer seed."""
    if value is None:
        return None
    return integer(name, value, minimum=0)


def finite_weights(model):
    """Checks every weight of a Keras model is finite.

    A model whose training diverged otherwise evaluates, explains and serves
    as if nothing were wrong (NaN scores all predict class 0). Plain
    callables, which have no variables to inspect, pass.
    """
    for variable in getattr(model, "weights", ()):
        if not np.all(np.isfinite(np.asarray(variable))):
            raise ValueError(
                f"Expected `model` to have finite weights; its variable {variable.path!r} "
                f"holds NaN or Inf values (did training diverge?). Received: model={model.name!r}"
            )
    return model


def _listed(values, limit=10):
    """`[a, b, ...]` with at most `limit` entries shown."""
    values = [int(v) for v in values]
    shown = ", ".join(map(str, values[:limit]))
    return f"[{shown}, ...]" if len(values) > limit else f"[{shown}]"


def finite_outputs(finite, outputs_of, what="examples"):
    """Checks the model's outputs on every example are finite.

    Finite weights do not make finite outputs (a layer that computes NaN,
    logits that overflow float32), and `argmax` of NaN scores is class 0: the
    accuracies would look plausible. The callers pass the per-example flags
    of the clean forward pass they already make.

    Args:
        finite: Boolean `(n,)`, whether all outputs of each example are finite.
        outputs_of: Maps example indices to their output rows; called only
            when some example fails, to say which outputs do.
        what: What the `n` examples are, in the message.
    """
    finite = np.asarray(finite, bool).reshape(-1)
    bad = np.flatnonzero(~finite)
    if not bad.size:
        return
    rows = np.asarray(outputs_of(bad), np.float64).reshape(len(bad), -1)
    units = np.flatnonzero(~np.all(np.isfinite(rows), axis=0))
    raise ValueError(
        "Expected the model to output finite values; its outputs on "
        f"{len(bad)} of {len(finite)} {what} hold NaN or Inf (at indices {_listed(bad)}, in "
        f"output units {_listed(units)}). Received: outputs[{bad[0]}]="
        f"{np.round(rows[0], 4).tolist()}"
    )

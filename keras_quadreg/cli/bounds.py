"""The valid range of every numeric option of the command line.

Checked as soon as the flags are parsed, and on the options of `compare`'s
method specs, so that a nonsense value stops a command before it writes or
trains anything.
"""

import math
import numbers

from keras_quadreg.cli import catalog


def _integer(minimum):
    def ok(value):
        return (
            isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum
        )

    return f"an integer >= {minimum}", ok


def _number(*, allow_zero):
    def ok(value):
        real = (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        )
        return real and (value >= 0 if allow_zero else value > 0)

    return f"a finite number {'>=' if allow_zero else '>'} 0", ok


_POSITIVE, _NON_NEGATIVE = _number(allow_zero=False), _number(allow_zero=True)
# What a training method's flag may declare as its "bounds".
_NAMED = {
    "positive": _POSITIVE,
    "non_negative": _NON_NEGATIVE,
    "integer>=0": _integer(0),
    "integer>=1": _integer(1),
}


def _fraction(*, allow_zero):
    _, number = _number(allow_zero=allow_zero)
    return f"a number in {'[' if allow_zero else '('}0, 1]", lambda v: number(v) and v <= 1


def _search_or(bound):
    expected, ok = bound
    return f'"search" or {expected}', lambda value: value == "search" or ok(value)


def _open_unit_interval():
    def ok(value):
        return _NON_NEGATIVE[1](value) and 0 < value < 1

    return "a number in (0, 1)", ok


# By argparse `dest`; None (a flag's "automatic" default) is always accepted.
BOUNDS = {
    # train and compare
    "limit": _integer(1),
    "val_limit": _integer(0),
    "epsilon": _POSITIVE,
    "epochs": _integer(1),
    "batch_size": _integer(1),
    "lr": _POSITIVE,
    "lr_peak_fraction": _fraction(allow_zero=True),
    "lr_milestones": _POSITIVE,
    "lr_decay": _fraction(allow_zero=False),
    "warmup_epochs": _NON_NEGATIVE,
    "weight_decay": _NON_NEGATIVE,
    "holdout": _integer(0),
    "seed": _integer(0),
    "ramp_epochs": _integer(0),
    "adapt_threshold": _fraction(allow_zero=False),
    "adapt_max_iterations": _integer(1),
    "adapt_increase": _integer(1),
    "adapt_probe": _integer(1),
    # the training methods' flags
    **{
        dest: _NAMED[spec["bounds"]]
        for dest, (spec, _) in catalog.method_flags().items()
        if "bounds" in spec
    },
    # evaluate, explain, export and compare
    "num_examples": _integer(1),
    "eval_batch_size": _integer(1),
    "sweep": _POSITIVE,
    "score_examples": _integer(1),
    "cf_epsilon": _search_or(_POSITIVE),
    "cf_max_epsilon": _POSITIVE,
    "cf_probability": _open_unit_interval(),
    "cf_steps": _integer(1),
    "cf_search_steps": _integer(0),
    "cf_gradient_noise": _NON_NEGATIVE,
    "images": _integer(1),
    "eval_seed": _integer(0),
    "version": _integer(1),
}


def violation(name, value):
    """What `name` should be, when `value` (or an item of a list) is out of
    bounds; else None."""
    if name not in BOUNDS:
        return None
    expected, ok = BOUNDS[name]
    values = value if isinstance(value, list) else [value]
    return None if all(v is None or ok(v) for v in values) else expected


def check_flags(parser, args):
    """Exits through `parser.error` (status 2) at the first out-of-bounds flag."""
    for name, value in vars(args).items():
        expected = violation(name, value)
        if expected:
            flag = "--" + name.replace("_", "-")
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            parser.error(f"Expected {flag} to be {expected}. Received: {flag}={shown}")


def check_options(options):
    """Raises a `ValueError` at the first out-of-bounds option of a dict."""
    for name, value in options.items():
        expected = violation(name, value)
        if expected:
            raise ValueError(f"Expected `{name}` to be {expected}. Received: {name}={value!r}")

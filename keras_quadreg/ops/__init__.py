"""Functional core: pure TensorFlow functions of a per-example `loss_fn`.

These are what `QuadRegModel` and its regularizers are built from, and they
can be called in a custom training loop. `loss_fn` maps a batch of inputs
`(batch, ...)` to per-example losses `(batch,)`.
"""

from keras_quadreg.ops.ascent import fgsm, pgd
from keras_quadreg.ops.gradients import input_gradient
from keras_quadreg.ops.hessian import HVP_METHODS, hvp
from keras_quadreg.ops.quadratic import (
    STEP_RULES,
    LocalQuadratic,
    frank_wolfe,
    worst_case_quadratic,
)
from keras_quadreg.ops.threat import L2Ball, LinfBall, ThreatModel, threat_model

__all__ = [
    "HVP_METHODS",
    "L2Ball",
    "LinfBall",
    "LocalQuadratic",
    "STEP_RULES",
    "ThreatModel",
    "fgsm",
    "frank_wolfe",
    "hvp",
    "input_gradient",
    "pgd",
    "threat_model",
    "worst_case_quadratic",
]


def __getattr__(name):
    # The deprecated module `attacks` (now `ascent`), which warns when imported.
    if name == "attacks":
        import importlib

        return importlib.import_module(f"{__name__}.attacks")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

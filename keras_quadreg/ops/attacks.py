"""Deprecated: `keras_quadreg.ops.ascent`, whose name says what it holds
(training-time gradient ascent, not the attacks that evaluate robustness)."""

from keras_quadreg import _deprecation
from keras_quadreg.ops.ascent import fgsm, pgd

_deprecation.warn("keras_quadreg.ops.attacks", "keras_quadreg.ops.ascent")

__all__ = ["fgsm", "pgd"]

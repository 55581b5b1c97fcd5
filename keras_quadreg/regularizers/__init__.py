"""Regularizers and adversarial training objectives, behind one interface.

Each is a small module implementing `Regularizer.compute(step) -> Terms`;
the `register` lines below make them selectable by name.
"""

from keras_quadreg.regularizers.base import Regularizer, Terms, ThreatRegularizer
from keras_quadreg.regularizers.cure import CURE
from keras_quadreg.regularizers.fgsm_rs import FGSMRandomStart
from keras_quadreg.regularizers.gradient_norm import GradientNorm
from keras_quadreg.regularizers.n_fgsm import NFGSM
from keras_quadreg.regularizers.pgd import PGDAdversarialTraining
from keras_quadreg.regularizers.quadratic import QuadraticAdversarial
from keras_quadreg.regularizers.registry import deserialize, get, names, register, serialize
from keras_quadreg.regularizers.trades import TRADES

register("quadratic_adversarial", "quadreg")(QuadraticAdversarial)
register("gradient_norm")(GradientNorm)
register("cure")(CURE)
register("pgd_adversarial_training", "pgd", "pgd_at")(PGDAdversarialTraining)
register("fgsm_random_start", "fgsm_rs")(FGSMRandomStart)
register("trades")(TRADES)
register("n_fgsm", "nfgsm")(NFGSM)

__all__ = [
    "CURE",
    "FGSMRandomStart",
    "GradientNorm",
    "NFGSM",
    "PGDAdversarialTraining",
    "QuadraticAdversarial",
    "Regularizer",
    "TRADES",
    "Terms",
    "ThreatRegularizer",
    "deserialize",
    "get",
    "names",
    "register",
    "serialize",
]

"""Robustness evaluation: reports over several attacks and gradient-masking checks."""

from keras_quadreg.evaluation.masking import MaskingCheck, MaskingReport, check_gradient_masking
from keras_quadreg.evaluation.report import AttackResult, RobustnessReport, plot_vs_epsilon
from keras_quadreg.evaluation.robustness import evaluate_robustness

__all__ = [
    "AttackResult",
    "MaskingCheck",
    "MaskingReport",
    "RobustnessReport",
    "check_gradient_masking",
    "evaluate_robustness",
    "plot_vs_epsilon",
]

"""keras_quadreg: adversarially robust, interpretable Keras models.

Train with a second-order regularizer (a quadratic model of the adversarial
loss maximized over the threat ball by Frank-Wolfe), or one of its
baselines, with `QuadRegModel`.
"""

from keras_quadreg import (
    architectures,
    attacks,
    callbacks,
    data,
    evaluation,
    explain,
    export,
    models,
    ops,
    optimizers,
    recipes,
    regularizers,
)
from keras_quadreg._version import __version__ as __version__
from keras_quadreg.evaluation import check_gradient_masking, evaluate_robustness
from keras_quadreg.export import export_for_serving
from keras_quadreg.models import QuadRegModel, TrainingStep

__all__ = [
    "QuadRegModel",
    "TrainingStep",
    "architectures",
    "attacks",
    "callbacks",
    "check_gradient_masking",
    "data",
    "evaluate_robustness",
    "evaluation",
    "explain",
    "export",
    "export_for_serving",
    "models",
    "ops",
    "optimizers",
    "recipes",
    "regularizers",
]

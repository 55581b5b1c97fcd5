"""Optimizers and learning-rate schedules of the robust-training recipes.

Keras has the piecewise-constant and cosine schedules; the triangular
(one-cycle) schedule of fast adversarial training is `TriangularCyclic`.
`learning_rate_schedule` builds any of them from a training's length, and
`optimizer` the optimizer that takes it.
"""

from keras_quadreg.optimizers.schedules import (
    OPTIMIZERS,
    SCHEDULES,
    TriangularCyclic,
    learning_rate_schedule,
    optimizer,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "TriangularCyclic",
    "learning_rate_schedule",
    "optimizer",
]

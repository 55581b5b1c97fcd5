"""Keras callbacks for robust training: robust accuracy, curvature, schedules,
adaptive Frank-Wolfe steps, saliency maps, checkpoints.

They write their figures into the epoch's `logs`, where `History`, the
progress bar and callbacks listed after them (`TensorBoard`,
`ModelCheckpoint(monitor=...)`, `EarlyStopping`) read them.
"""

from keras_quadreg.callbacks.adaptive_iterations import AdaptiveIterations
from keras_quadreg.callbacks.checkpointing import Checkpoints
from keras_quadreg.callbacks.curvature import CurvatureMonitor
from keras_quadreg.callbacks.robust_accuracy import RobustAccuracy
from keras_quadreg.callbacks.schedule import RegularizerSchedule
from keras_quadreg.explain.callbacks import SaliencyCallback

__all__ = [
    "AdaptiveIterations",
    "Checkpoints",
    "CurvatureMonitor",
    "RegularizerSchedule",
    "RobustAccuracy",
    "SaliencyCallback",
]

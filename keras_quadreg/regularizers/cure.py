"""CURE: curvature regularization (Moosavi-Dezfooli et al. 2019)."""

import tensorflow as tf

from keras_quadreg import _batch, _validation, ops
from keras_quadreg.regularizers.base import Regularizer, Terms
from keras_quadreg.regularizers.registry import register


@register(
    "cure",
    command_line={
        "method": "cure",
        "help": "CURE: curvature regularization",
        "arguments": {"weight": "weight", "h": "cure_h"},
        "flags": {
            "cure_h": {"default": 1.5, "bounds": "positive", "help": "finite-difference step h"}
        },
    },
)
class CURE(Regularizer):
    """Penalizes the change of the input gradient along the attack direction.

    `weight * ||grad l(x + h z) - grad l(x)||_2^2` with
    `z = sign(grad l(x)) / ||sign(grad l(x))||_2` held fixed: a finite
    difference of the Hessian along the l_inf attack direction, at distance
    `h` in input space.

    Example:

    ```python
    kq.regularizers.CURE(weight=4.0, h=1.5)
    ```

    Args:
        weight: Weight of the penalty, >= 0.
        h: Finite-difference step in input space (l_2 length), > 0.
        name: Log key of the regularizer term.
    """

    def __init__(self, weight=1.0, h=1.5, name=None):
        super().__init__(name=name)
        self.weight = _validation.non_negative_number("weight", weight)
        self.h = _validation.positive_number("h", h)

    def compute(self, step):
        _, gradient, y_pred = ops.input_gradient(step.training_loss, step.x, has_aux=True)
        direction = tf.stop_gradient(_batch.safe_unit(tf.sign(gradient)))
        _, shifted = ops.input_gradient(step.replay_loss, step.x + self.h * direction)
        difference = shifted - gradient
        return Terms(y_pred, y_pred, _batch.dot(difference, difference), self.weight)

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "h": self.h}

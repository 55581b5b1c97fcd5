"""Input-gradient regularization (Ross & Doshi-Velez 2018; Simon-Gabriel et al. 2019)."""

from keras_quadreg import _batch, _validation, ops
from keras_quadreg.regularizers.base import Regularizer, Terms
from keras_quadreg.regularizers.registry import register

_NORMS = {1: _batch.l1_norm, 2: _batch.l2_norm, "inf": _batch.linf_norm}


@register(
    "gradient_norm",
    command_line={
        "method": "gradient-norm",
        "help": "GradientNorm: input-gradient regularization",
        "arguments": {"weight": "weight", "norm": "gradient_norm", "squared": "squared"},
        "flags": {
            "gradient_norm": {
                "default": 2,
                "choices": [1, 2, "inf"],
                "help": "norm of the input gradient",
            },
            "squared": {"default": True, "help": "square the norm"},
        },
    },
)
class GradientNorm(Regularizer):
    """Penalizes the norm of the loss's input gradient: `weight * ||g||^p`.

    `norm=2, squared=True` is double backpropagation (Ross & Doshi-Velez).
    A dual norm is the first-order adversarial loss increase over a ball:
    `max_{||d||_inf <= eps} g.d = eps ||g||_1`, so `norm=1, squared=False`
    (with `weight=epsilon`) regularizes against l_inf attacks and `norm=2`
    against l_2 attacks.

    Example:

    ```python
    kq.regularizers.GradientNorm(weight=0.3, norm=1, squared=False)  # l_inf dual
    ```

    Args:
        weight: Weight of the penalty, >= 0.
        norm: Norm of the gradient: 1, 2 or `"inf"`.
        squared: Whether to square the norm.
        name: Log key of the regularizer term.
    """

    def __init__(self, weight=1.0, norm=2, squared=True, name=None):
        super().__init__(name=name)
        self.weight = _validation.non_negative_number("weight", weight)
        if norm not in _NORMS or isinstance(norm, bool):
            raise ValueError(f'Expected `norm` to be 1, 2 or "inf". Received: norm={norm!r}')
        self.norm = norm
        self.squared = _validation.flag("squared", squared)

    def compute(self, step):
        _, gradient, y_pred = ops.input_gradient(step.training_loss, step.x, has_aux=True)
        size = _NORMS[self.norm](gradient)
        penalty = size**2 if self.squared else size
        return Terms(y_pred, y_pred, penalty, self.weight)

    def get_config(self):
        return {
            **super().get_config(),
            "weight": self.weight,
            "norm": self.norm,
            "squared": self.squared,
        }

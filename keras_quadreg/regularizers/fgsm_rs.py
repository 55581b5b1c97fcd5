"""FGSM adversarial training with random start (Wong et al. 2020)."""

import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg import ops
from keras_quadreg.regularizers.base import Terms
from keras_quadreg.regularizers.base import ThreatRegularizer


class FGSMRandomStart(ThreatRegularizer):
    """"Fast is better than free": one gradient step from a random start.

    Each step draws a uniformly random point of the ball, takes one
    signed-gradient step of `step_size` (default `1.25 * epsilon`), projects
    back, and trains on the result: about two forward-backward passes per
    step. Metrics and `clean_loss` are measured on the clean batch.

    Example:

    ```python
    kq.regularizers.FGSMRandomStart(epsilon=0.3, clip_min=0.0, clip_max=1.0, seed=0)
    ```

    Args:
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        step_size: Length of the step in input units (absolute, unlike the
            attacks' `relative_step_size`); defaults to `1.25 * epsilon`.
        clip_min: Lower bound of valid inputs, or None.
        clip_max: Upper bound of valid inputs, or None.
        name: Name of the objective.
        seed: Seed of the random starts.
    """

    has_penalty = False

    def __init__(
        self, epsilon, norm="inf", step_size=None, clip_min=None, clip_max=None, name=None, seed=None
    ):
        super().__init__(epsilon, norm, clip_min, clip_max, name=name)
        self._set_seed(seed)
        self.step_size = _validation.positive_number(
            "step_size", 1.25 * self.epsilon if step_size is None else step_size
        )

    def compute(self, step):
        x, threat = step.x, self.threat_model
        x_init = threat.clip(x + step.sample(threat.random_perturbation, self.step_seed(step)))
        x_adv = ops.fgsm(step.replay_loss, x, threat, step_size=self.step_size, x_init=x_init)
        return Terms(tf.stop_gradient(step.replay(x)), step.forward(x_adv))

    def get_config(self):
        return {**super().get_config(), "step_size": self.step_size, "seed": self.seed}

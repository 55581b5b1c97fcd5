"""N-FGSM: single-step adversarial training from strong noise (de Jorge et al. 2022)."""

import tensorflow as tf

from keras_quadreg import _validation, ops
from keras_quadreg.regularizers.base import AscentRegularizer, Terms
from keras_quadreg.regularizers.registry import register


@register(
    "n_fgsm",
    "nfgsm",
    command_line={
        "method": "n-fgsm",
        "help": "NFGSM: one unprojected step from strong noise (de Jorge et al.)",
        "arguments": {
            "epsilon": "epsilon",
            "norm": "norm",
            "noise_magnitude": "noise_magnitude",
            "step_size": "attack_step_size",
            "seed": "seed",
            "clip_min": "clip_min",
            "clip_max": "clip_max",
        },
        "flags": {
            "noise_magnitude": {
                "default": 2.0,
                "bounds": "non_negative",
                "help": "radius of the noise, a multiple of epsilon",
            }
        },
    },
)
class NFGSM(AscentRegularizer):
    """Trains on one gradient step taken from a point of strong noise, unprojected.

    "Make some noise" (de Jorge et al., NeurIPS 2022): each step draws noise
    `eta` uniformly from the ball of radius `noise_magnitude * epsilon`
    (default 2, twice the threat ball), takes one signed (l_inf) or
    normalized (l_2) gradient step of `step_size` (default `epsilon`) from
    `x + eta`, and trains on the result. Unlike FGSM with random start, the
    perturbation is not projected back onto the epsilon-ball (so it reaches
    up to `(noise_magnitude + 1) * epsilon`), only onto the valid input box
    (as the authors' code does, after the noise and after the step). The
    authors found this avoids catastrophic overfitting at large epsilon
    without a regularizer: about two forward-backward passes per step, as
    FGSM-RS. Metrics and `clean_loss` are measured on the clean batch.

    Example:

    ```python
    kq.regularizers.NFGSM(epsilon=0.3, clip_min=0.0, clip_max=1.0, seed=0)
    ```

    Args:
        epsilon: Radius of the threat ball, > 0.
        norm: `"inf"` or `2`.
        noise_magnitude: Radius of the noise, as a multiple of `epsilon`;
            0 starts from `x` (plain FGSM without projection).
        step_size: Length of the step in input units (absolute, unlike the
            attacks' `relative_step_size`); defaults to `epsilon`.
        clip_min: Lower bound of valid inputs, or None for no box.
        clip_max: Upper bound of valid inputs, or None.
        name: Name of the objective.
        seed: Seed of the noise.
    """

    has_penalty = False
    _step_factor = 1.0  # the authors' step: epsilon

    def __init__(self, epsilon, norm="inf", noise_magnitude=2.0, step_size=None, **kwargs):
        super().__init__(epsilon, norm, step_size, **kwargs)
        self.noise_magnitude = float(
            _validation.non_negative_number("noise_magnitude", noise_magnitude)
        )

    def compute(self, step):
        x, threat = step.x, self.threat_model
        noise = step.sample(threat.random_perturbation, self.step_seed(step))
        x_noise = threat.clip(x + self.noise_magnitude * noise)
        _, gradient = ops.input_gradient(step.replay_loss, x_noise)
        x_adv = tf.stop_gradient(threat.clip(threat.step(x_noise, gradient, self.step_size)))
        return Terms(tf.stop_gradient(step.replay(x)), step.forward(x_adv))

    def get_config(self):
        return {
            **super().get_config(),
            "noise_magnitude": self.noise_magnitude,
            "step_size": self.step_size,
        }

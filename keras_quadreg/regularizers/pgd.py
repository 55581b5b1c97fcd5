"""PGD adversarial training (Madry et al. 2018)."""

import tensorflow as tf

from keras_quadreg import _validation, ops
from keras_quadreg.regularizers.base import AscentRegularizer, Terms
from keras_quadreg.regularizers.registry import register


@register(
    "pgd_adversarial_training",
    "pgd",
    "pgd_at",
    command_line={
        "method": "pgd",
        "help": "PGDAdversarialTraining (Madry et al.)",
        "arguments": {
            "epsilon": "epsilon",
            "norm": "norm",
            "steps": "attack_steps",
            "step_size": "attack_step_size",
            "random_start": "random_start",
            "clip_start": "clip_start",
            "seed": "seed",
            "clip_min": "clip_min",
            "clip_max": "clip_max",
        },
        "flags": {
            "attack_steps": {"default": 10, "bounds": "integer>=1", "help": "inner attack steps"},
            "attack_step_size": {
                "default": None,
                "type": "float",
                "bounds": "positive",
                "help": "length of an attack step, absolute, in input units (default: the "
                "method's rule)",
            },
            "random_start": {"default": True, "help": "start from a random point of the ball"},
            "clip_start": {
                "default": True,
                "help": "clip the random start to the input box before the first gradient "
                "(Wong et al.'s FGSM training does not)",
            },
        },
    },
)
class PGDAdversarialTraining(AscentRegularizer):
    """Minimizes the loss at PGD adversarial examples instead of clean ones.

    Each step runs `steps` projected gradient ascent steps on the loss from
    a random point of the ball (or from `x`), then trains on the result: the
    step's training pass (BatchNormalization statistics included) is on the
    adversarial batch. Compiled metrics and `clean_loss` are measured on the
    clean batch. Its ascent is `kq.ops.pgd`; `"pgd"` names this class among
    regularizers (and `quadreg train --method pgd`), while among attacks it
    names the evaluation attack `kq.attacks.PGD`.

    Example:

    ```python
    kq.regularizers.PGDAdversarialTraining(epsilon=0.3, steps=40, step_size=0.01,
                                           clip_min=0.0, clip_max=1.0, seed=0)
    ```

    Args:
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        steps: Ascent steps, >= 1.
        step_size: Length of each step in input units (absolute, unlike the
            attacks' `relative_step_size`); defaults to `2.5 * epsilon / steps`.
        random_start: Whether to start from a uniformly random point of the ball.
        clip_start: Whether the random start is clipped to the input box
            before the first gradient. False takes it at `x + noise` as
            drawn, as Wong et al.'s FGSM training does (their MNIST code):
            on images with saturated pixels (MNIST's background is 0) the
            clipped start has half the noise there, all of one sign.
        clip_min: Lower bound of valid inputs, or None.
        clip_max: Upper bound of valid inputs, or None.
        name: Name of the objective.
        seed: Seed of the random starts.
    """

    has_penalty = False

    def __init__(
        self,
        epsilon,
        norm="inf",
        steps=10,
        step_size=None,
        random_start=True,
        *,
        clip_start=True,
        **kwargs,
    ):
        self.steps = _validation.integer("steps", steps, minimum=1)
        super().__init__(epsilon, norm, step_size, **kwargs)
        self.random_start = _validation.flag("random_start", random_start)
        self.clip_start = _validation.boolean("clip_start", clip_start)

    def compute(self, step):
        x, threat = step.x, self.threat_model
        x_init = None
        if self.random_start:
            x_init = x + step.sample(threat.random_perturbation, self.step_seed(step))
        x_adv = ops.pgd(
            step.replay_loss,
            x,
            threat,
            steps=self.steps,
            step_size=self.step_size,
            x_init=x_init,
            project_init=self.clip_start,
        )
        return Terms(tf.stop_gradient(step.replay(x)), step.forward(x_adv))

    def get_config(self):
        return {
            **super().get_config(),
            "steps": self.steps,
            "step_size": self.step_size,
            "random_start": self.random_start,
            "clip_start": self.clip_start,
        }

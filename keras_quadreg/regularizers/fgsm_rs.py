"""FGSM adversarial training with random start (Wong et al. 2020)."""

from keras_quadreg.regularizers.pgd import PGDAdversarialTraining
from keras_quadreg.regularizers.registry import register


@register(
    "fgsm_random_start",
    "fgsm_rs",
    command_line={
        "method": "fgsm-rs",
        "help": "FGSMRandomStart (Wong et al.)",
        "arguments": {
            "epsilon": "epsilon",
            "norm": "norm",
            "step_size": "attack_step_size",
            "clip_start": "clip_start",
            "seed": "seed",
            "clip_min": "clip_min",
            "clip_max": "clip_max",
        },
        "flags": {},
    },
)
class FGSMRandomStart(PGDAdversarialTraining):
    """ "Fast is better than free": one gradient step from a random start.

    Each step draws a uniformly random point of the ball, takes one
    signed-gradient step of `step_size` (default `1.25 * epsilon`), projects
    back, and trains on the result: about two forward-backward passes per
    step. This is `PGDAdversarialTraining` with `steps=1` and
    `random_start=True`, with the paper's step size. Metrics and
    `clean_loss` are measured on the clean batch.

    Example:

    ```python
    kq.regularizers.FGSMRandomStart(epsilon=0.3, clip_min=0.0, clip_max=1.0, seed=0)
    ```

    Args:
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        step_size: Length of the step in input units (absolute, unlike the
            attacks' `relative_step_size`); defaults to `1.25 * epsilon`.
        **kwargs: `clip_start`, `clip_min`, `clip_max`, `name` and `seed`, as
            for `PGDAdversarialTraining`.
    """

    _step_factor = 1.25  # the paper's step: 1.25 epsilon

    def __init__(self, epsilon, norm="inf", step_size=None, **kwargs):
        # One step from a random start is what this method is: neither is an option.
        fixed = sorted({"steps", "random_start"} & set(kwargs))
        if fixed:
            raise TypeError(
                f"FGSMRandomStart takes one step from a random start and has no `{fixed[0]}` "
                f"argument. Received: {fixed[0]}={kwargs[fixed[0]]!r}"
            )
        super().__init__(epsilon, norm, steps=1, step_size=step_size, random_start=True, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["steps"], config["random_start"]
        return config

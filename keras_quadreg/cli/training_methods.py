"""The training methods the command line knows (`train --method`, `compare
--methods`), and how flags build them. The saliency methods of `--saliency`
are `kq.explain`'s."""

import dataclasses
import typing

import keras_quadreg as kq
from keras_quadreg.cli import specs


@dataclasses.dataclass(frozen=True)
class TrainingMethod:
    name: str
    help: str
    build: typing.Callable  # (options: dict) -> Regularizer or None


def _box(o):
    return dict(clip_min=o["clip_min"], clip_max=o["clip_max"])


METHODS = {
    m.name: m
    for m in (
        TrainingMethod("standard", "plain training, no regularizer", lambda o: None),
        TrainingMethod(
            "quadreg",
            "QuadraticAdversarial: worst case of the quadratic loss model (the paper)",
            lambda o: kq.regularizers.QuadraticAdversarial(
                o["epsilon"],
                norm=o["norm"],
                iterations=o["iterations"],
                step_rule=o["step_rule"],
                hvp=o["hvp"],
                weight=o["weight"],
                first_order_weight=o["first_order_weight"],
                second_order_weight=o["second_order_weight"],
                finite_difference_step=o["fd_step"],
                expansion_point=o["expansion_point"],
                objective=o["objective"],
                seed=o["seed"],
                **_box(o),
            ),
        ),
        TrainingMethod(
            "gradient-norm",
            "GradientNorm: input-gradient regularization",
            lambda o: kq.regularizers.GradientNorm(
                weight=o["weight"], norm=o["gradient_norm"], squared=o["squared"]
            ),
        ),
        TrainingMethod(
            "cure",
            "CURE: curvature regularization",
            lambda o: kq.regularizers.CURE(weight=o["weight"], h=o["cure_h"]),
        ),
        TrainingMethod(
            "pgd",
            "PGDAdversarialTraining (Madry et al.)",
            lambda o: kq.regularizers.PGDAdversarialTraining(
                o["epsilon"],
                norm=o["norm"],
                steps=o["attack_steps"],
                step_size=o["attack_step_size"],
                random_start=o["random_start"],
                clip_start=o["clip_start"],
                seed=o["seed"],
                **_box(o),
            ),
        ),
        TrainingMethod(
            "fgsm-rs",
            "FGSMRandomStart (Wong et al.)",
            lambda o: kq.regularizers.FGSMRandomStart(
                o["epsilon"],
                norm=o["norm"],
                step_size=o["attack_step_size"],
                clip_start=o["clip_start"],
                seed=o["seed"],
                **_box(o),
            ),
        ),
        TrainingMethod(
            "n-fgsm",
            "NFGSM: one unprojected step from strong noise (de Jorge et al.)",
            lambda o: kq.regularizers.NFGSM(
                o["epsilon"],
                norm=o["norm"],
                noise_magnitude=o["noise_magnitude"],
                step_size=o["attack_step_size"],
                seed=o["seed"],
                **_box(o),
            ),
        ),
        TrainingMethod(
            "trades",
            "TRADES (Zhang et al.)",
            lambda o: kq.regularizers.TRADES(
                o["epsilon"],
                norm=o["norm"],
                beta=o["beta"],
                steps=o["attack_steps"],
                step_size=o["attack_step_size"],
                seed=o["seed"],
                **_box(o),
            ),
        ),
    )
}


def parse_spec(spec):
    """`"quadreg:iterations=3,hvp=forward_over_reverse"` -> `("quadreg", {...})`."""
    name, options = specs.parse(spec)
    if name not in METHODS:
        raise ValueError(
            f"Unknown method. Expected one of {list(METHODS)}. Received: method={name!r}"
        )
    return name, options

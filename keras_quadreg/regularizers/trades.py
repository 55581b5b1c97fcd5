"""TRADES (Zhang et al. 2019)."""

import tensorflow as tf

from keras_quadreg import _validation, ops
from keras_quadreg.ops import hessian
from keras_quadreg.regularizers.base import AscentRegularizer, Terms
from keras_quadreg.regularizers.registry import register

_PROBABILITY_FLOOR = 1e-12


def _probabilities(y_pred, from_logits):
    if from_logits:
        return tf.nn.softmax(y_pred, axis=-1)
    return tf.clip_by_value(y_pred, _PROBABILITY_FLOOR, 1.0)


def _kl(p, q):
    """Per-example `KL(p || q)` over the last axis."""
    p = tf.clip_by_value(p, _PROBABILITY_FLOOR, 1.0)
    return tf.reduce_sum(p * (tf.math.log(p) - tf.math.log(q)), axis=-1)


@register(
    "trades",
    command_line={
        "method": "trades",
        "help": "TRADES (Zhang et al.)",
        "arguments": {
            "epsilon": "epsilon",
            "norm": "norm",
            "beta": "beta",
            "steps": "attack_steps",
            "step_size": "attack_step_size",
            "seed": "seed",
            "clip_min": "clip_min",
            "clip_max": "clip_max",
        },
        "flags": {
            "beta": {"default": 6.0, "bounds": "non_negative", "help": "weight of the KL term"}
        },
    },
)
class TRADES(AscentRegularizer):
    """Trades clean accuracy for robustness: `loss(x) + beta * KL(f(x) || f(x'))`.

    `x'` maximizes the KL divergence between the clean and perturbed output
    distributions by PGD from `x + delta`, `delta = 0.001 N(0, 1)`; the
    divergence is then differentiated through both distributions. The first
    ascent direction is `H delta`, with `H` the divergence's Hessian at `x`:
    the gradient at `x + delta` equals it up to `O(|delta|^2)`, but computing
    that gradient subtracts two distributions that agree to about 1e-3, so
    its float32 rounding (1e-4 of the gradient) flips the signs of its
    smallest entries whenever the rounding changes (another replica split,
    another CPU). Needs a classifier whose compiled loss is a Keras
    cross-entropy, which says whether the model outputs logits
    (`from_logits`).

    Example:

    ```python
    kq.regularizers.TRADES(epsilon=0.3, beta=6.0, steps=40, step_size=0.01,
                           clip_min=0.0, clip_max=1.0, seed=0)
    ```

    Args:
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        beta: Weight of the KL term, >= 0 (`1 / lambda` in the paper).
        steps: Ascent steps of the inner maximization, >= 1.
        step_size: Length of each step in input units (absolute, unlike the
            attacks' `relative_step_size`); defaults to `2.5 * epsilon / steps`.
        clip_min: Lower bound of valid inputs, or None.
        clip_max: Upper bound of valid inputs, or None.
        name: Log key of the KL term.
        seed: Seed of the initial noise.
    """

    def __init__(self, epsilon, norm="inf", beta=6.0, steps=10, step_size=None, **kwargs):
        self.steps = _validation.integer("steps", steps, minimum=1)
        super().__init__(epsilon, norm, step_size, **kwargs)
        self.beta = _validation.non_negative_number("beta", beta)

    def compute(self, step):
        if step.from_logits is None:
            raise ValueError(
                "TRADES needs to know whether the model outputs logits or "
                "probabilities: compile with a Keras cross-entropy loss, whose "
                "`from_logits` says, or end the model in a softmax or linear layer. "
                "Received: a loss without `from_logits`"
            )
        x = step.x
        y_pred = step.forward(x)
        clean = _probabilities(y_pred, step.from_logits)
        fixed_clean = tf.stop_gradient(clean)

        def divergence(x_adv):
            return _kl(fixed_clean, _probabilities(step.replay(x_adv), step.from_logits))

        noise = step.sample(
            lambda shape, seed, dtype: tf.random.stateless_normal(shape, seed, dtype=dtype),
            self.step_seed(step),
        )
        delta = 0.001 * noise
        start = self.threat_model.project(x, x + delta)
        first_direction = hessian.forward_over_reverse(divergence, x, delta)
        x_adv = ops.pgd(
            divergence,
            x,
            self.threat_model,
            steps=self.steps - 1,
            step_size=self.step_size,
            x_init=self.threat_model.step(start, first_direction, self.step_size),
        )
        adversarial = _probabilities(step.replay(x_adv), step.from_logits)
        return Terms(y_pred, y_pred, _kl(clean, adversarial), self.beta)

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "steps": self.steps,
            "step_size": self.step_size,
        }

"""The paper's method: the worst case of a quadratic model of the adversarial loss."""

import tensorflow as tf

from keras_quadreg import _validation, ops
from keras_quadreg.ops import hessian
from keras_quadreg.ops import quadratic as quadratic_lib
from keras_quadreg.regularizers.base import Terms, ThreatRegularizer
from keras_quadreg.regularizers.registry import register

EXPANSION_POINTS = ("input", "random")
OBJECTIVES = ("quadratic", "excess_loss", "adversarial")


@register(
    "quadratic_adversarial",
    "quadreg",
    command_line={
        "method": "quadreg",
        "help": "QuadraticAdversarial: worst case of the quadratic loss model (the paper)",
        "arguments": {
            "epsilon": "epsilon",
            "norm": "norm",
            "iterations": "iterations",
            "step_rule": "step_rule",
            "hvp": "hvp",
            "weight": "weight",
            "first_order_weight": "first_order_weight",
            "second_order_weight": "second_order_weight",
            "finite_difference_step": "fd_step",
            "expansion_point": "expansion_point",
            "objective": "objective",
            "seed": "seed",
            "clip_min": "clip_min",
            "clip_max": "clip_max",
        },
        "flags": {
            "iterations": {
                "default": 2,
                "bounds": "integer>=1",
                "help": "Frank-Wolfe iterations K",
            },
            "step_rule": {
                "default": "frank_wolfe",
                "choices": ["frank_wolfe", "fixed_point", "line_search"],
                "help": "Frank-Wolfe step rule",
            },
            "hvp": {
                "default": "secant",
                "choices": [
                    "reverse_over_reverse",
                    "forward_over_reverse",
                    "finite_difference",
                    "secant",
                ],
                "help": "Hessian-vector products (secant: grad(x + v) - grad(x), the curvature "
                "across the ball)",
            },
            "expansion_point": {
                "default": "random",
                "choices": ["input", "random"],
                "help": "where the quadratic is expanded: the input x (the paper's form) or a "
                "uniformly random point of the ball",
            },
            "objective": {
                "default": "adversarial",
                "choices": ["quadratic", "excess_loss", "adversarial"],
                "help": "quadratic: penalize q(delta_K) (the paper's form); excess_loss: penalize "
                "the true l(x0 + delta_K) - l(x); adversarial: train on l(x0 + delta_K)",
            },
            "weight": {
                "default": 1.0,
                "bounds": "non_negative",
                "help": "regularizer weight lambda",
            },
            "first_order_weight": {
                "default": 1.0,
                "bounds": "non_negative",
                "help": "weight of g.delta in R (objective quadratic)",
            },
            "second_order_weight": {
                "default": 1.0,
                "bounds": "non_negative",
                "help": "weight of delta.H.delta / 2 in R (objective quadratic)",
            },
            "fd_step": {
                "default": 0.001,
                "bounds": "positive",
                "help": "finite-difference step (--hvp finite_difference)",
            },
        },
    },
)
class QuadraticAdversarial(ThreatRegularizer):
    """Second-order adversarial training (Tsiligkaridis & Roberts, 2020).

    Approximates the loss around an expansion point `x0` by the quadratic
    model `q(delta) = g.delta + 1/2 delta.H.delta` (`g`, `H`: input gradient
    and Hessian at `x0`) and finds its worst case over the threat ball around
    the input `x` with `iterations` Frank-Wolfe steps, each costing one
    Hessian-vector product. What the step then minimizes is a choice:

    - `objective="quadratic"` (the paper's form): the clean loss plus
      `weight * R(delta_K)`, `R = first_order_weight * g.delta +
      second_order_weight * 1/2 delta.H.delta`, with `delta_K` held fixed
      (Danskin). With `expansion_point="input"`, one iteration and an l_inf
      ball, `R_1 = epsilon ||g||_1 + epsilon^2 / 2 sign(g).H.sign(g)`.
    - `objective="excess_loss"`: the clean loss plus `weight` times the true
      excess loss `l(x0 + delta_K) - l(x)` at the quadratic's worst case.
    - `objective="adversarial"`: the loss at `x0 + delta_K` in place of the
      clean loss: the quadratic as the inner maximizer of adversarial
      training.

    A penalty is the better of `delta_K` and `delta = 0` for each example,
    so it is never negative: the worst case over a ball containing 0 is at
    least the value at 0, and a negative estimate would be a reward the
    network learns to collect.

    The curvature scale matters on ReLU networks, whose Hessian at a point is
    nearly zero: exact products (`"reverse_over_reverse"`,
    `"forward_over_reverse"`) make every Frank-Wolfe step repeat the first,
    while `hvp="secant"` takes `H delta = grad(x0 + delta) - grad(x0)`, the
    curvature across the ball, with which each step follows the true gradient
    at the current iterate. Expanding at a uniformly random point of the
    ball (`expansion_point="random"`) rather than at `x` keeps the first step
    from being the plain FGSM direction, as in FGSM with random start.

    Defaults are the variant that measured best in the study of
    `docs/results.md` (MNIST and Fashion-MNIST, AutoAttack); the paper's
    literal form is `expansion_point="input", objective="quadratic",
    hvp="reverse_over_reverse", iterations=1`.

    Cost per step, in forward-backward passes: one input gradient at `x0`,
    `iterations - 1` products inside the loop (one input gradient each for
    `"secant"` and `"finite_difference"`), then the objective: the training
    pass at `x0 + delta_K` (`"adversarial"`), or a product and the backward
    pass through `R` (`"quadratic"`), or one more forward pass
    (`"excess_loss"`). With `expansion_point="input"`, a penalty shares the
    step's training pass for the clean loss, `g` and (reverse over reverse)
    every product.

    Example:

    ```python
    model = kq.QuadRegModel(inputs, outputs,
        regularizer=kq.regularizers.QuadraticAdversarial(
            epsilon=0.3, clip_min=0.0, clip_max=1.0, seed=0))
    # The paper's literal form:
    kq.regularizers.QuadraticAdversarial(
        0.3, expansion_point="input", objective="quadratic",
        hvp="reverse_over_reverse", iterations=1, clip_min=0.0, clip_max=1.0)
    ```

    Args:
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        iterations: Frank-Wolfe iterations `K >= 1`.
        step_rule: `"frank_wolfe"` (`2 / (k + 2)`), `"fixed_point"` (1) or
            `"line_search"` (exact on the quadratic; one more product per
            iteration).
        hvp: `"secant"`, `"reverse_over_reverse"`, `"forward_over_reverse"`
            or `"finite_difference"` (see `kq.ops.hvp`).
        weight: `lambda`, the weight of the penalty, >= 0; must stay 1 with
            `objective="adversarial"`, which has no penalty.
        first_order_weight: Weight of `g.delta` in `R`, >= 0 (objective
            `"quadratic"` only).
        second_order_weight: Weight of `1/2 delta.H.delta` in `R`, >= 0
            (objective `"quadratic"` only; 0 skips the final product).
        clip_min: Lower bound of valid inputs, or None.
        clip_max: Upper bound of valid inputs, or None.
        finite_difference_step: Input-space step of `"finite_difference"`.
        expansion_point: `"input"` (`x0 = x`) or `"random"` (`x0` uniform in
            the ball around `x`, clipped to the box; drawn per step from
            `seed`).
        objective: `"quadratic"`, `"excess_loss"` or `"adversarial"`.
        name: Log key of the penalty.
        seed: Seed of the random expansion points; None draws one from
            Python's `random` (seeded by `keras.utils.set_random_seed`).
    """

    def __init__(
        self,
        epsilon,
        norm="inf",
        iterations=2,
        step_rule="frank_wolfe",
        hvp="secant",
        weight=1.0,
        first_order_weight=1.0,
        second_order_weight=1.0,
        clip_min=None,
        clip_max=None,
        finite_difference_step=1e-3,
        expansion_point="random",
        objective="adversarial",
        name=None,
        seed=None,
    ):
        super().__init__(epsilon, norm, clip_min, clip_max, name=name)
        self.iterations = _validation.integer("iterations", iterations, minimum=1)
        self.step_rule = quadratic_lib.check_step_rule(step_rule)
        self.hvp = hessian.check_hvp_method(hvp, "hvp")
        self.weight = _validation.non_negative_number("weight", weight)
        self.first_order_weight = _validation.non_negative_number(
            "first_order_weight", first_order_weight
        )
        self.second_order_weight = _validation.non_negative_number(
            "second_order_weight", second_order_weight
        )
        self.finite_difference_step = _validation.positive_number(
            "finite_difference_step", finite_difference_step
        )
        self.expansion_point = _validation.choice(
            "expansion_point", expansion_point, EXPANSION_POINTS
        )
        self.objective = _validation.choice("objective", objective, OBJECTIVES)
        if self.objective != "quadratic" and (first_order_weight, second_order_weight) != (
            1.0,
            1.0,
        ):
            raise ValueError(
                "`first_order_weight` and `second_order_weight` weigh the terms of "
                "q(delta) and apply only with objective='quadratic'. Received: "
                f"objective={objective!r}, first_order_weight={first_order_weight!r}, "
                f"second_order_weight={second_order_weight!r}"
            )
        if self.objective == "adversarial" and weight != 1.0:
            raise ValueError(
                "objective='adversarial' trains on the loss at x + delta_K in place of "
                "the clean loss and has no penalty to weigh; leave `weight` at 1. "
                f"Received: objective='adversarial', weight={weight!r}"
            )
        self._set_seed(seed)

    @property
    def has_penalty(self):
        return self.objective != "adversarial"

    def compute(self, step):
        if self.hvp == "finite_difference" and tf.as_dtype(step.compute_dtype).size < 4:
            raise ValueError(
                "Finite-difference Hessian-vector products need 32-bit compute: the "
                "model casts its inputs to 16 bits, which rounds away a step of "
                f"{self.finite_difference_step}. Use hvp='reverse_over_reverse', "
                "'forward_over_reverse' or 'secant' under mixed precision. Received: "
                f"hvp='finite_difference', compute dtype {step.compute_dtype}"
            )
        x, threat = step.x, self.threat_model
        # At the input, a penalty shares the step's training pass: the clean
        # loss, `g` and (reverse over reverse) every product come from it.
        shared = self.expansion_point == "input" and self.objective != "adversarial"
        if self.expansion_point == "random":
            x0 = threat.clip(x + step.sample(threat.random_perturbation, self.step_seed(step)))
        else:
            x0 = x
        quadratic = ops.LocalQuadratic(
            step.training_loss if shared else step.replay_loss,
            x0,
            hvp=self.hvp,
            finite_difference_step=self.finite_difference_step,
            hvp_loss_fn=step.replay_loss,
        )
        delta = ops.frank_wolfe(
            quadratic, threat, iterations=self.iterations, step_rule=self.step_rule, center=x
        )
        if self.objective == "adversarial":
            y_pred = tf.stop_gradient(step.replay(x))
            return Terms(y_pred, step.forward(tf.stop_gradient(x0 + delta)))
        y_pred = quadratic.aux if shared else step.forward(x)
        if self.objective == "excess_loss":
            excess = step.replay_loss(tf.stop_gradient(x0 + delta)) - step.loss(y_pred)
        else:
            excess = self.first_order_weight * quadratic.first_order(delta)
            if self.second_order_weight:
                excess += self.second_order_weight * quadratic.second_order(delta)
        # max(R(delta_K), R(0)): the worst case over a ball containing 0 is
        # >= 0, and a negative estimate would be a reward to exploit.
        return Terms(y_pred, y_pred, tf.nn.relu(excess), self.weight)

    def get_config(self):
        return {
            **super().get_config(),
            "iterations": self.iterations,
            "step_rule": self.step_rule,
            "hvp": self.hvp,
            "weight": self.weight,
            "first_order_weight": self.first_order_weight,
            "second_order_weight": self.second_order_weight,
            "finite_difference_step": self.finite_difference_step,
            "expansion_point": self.expansion_point,
            "objective": self.objective,
            "seed": self.seed,
        }

"""First-order attacks from CleverHans (`cleverhans.tf2.attacks`).

Each class configures one CleverHans function and runs it, compiled, on
the cross-entropy of the logits with the true labels.
"""

import numpy as np
from cleverhans.tf2.attacks.basic_iterative_method import basic_iterative_method
from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method
from cleverhans.tf2.attacks.momentum_iterative_method import momentum_iterative_method
from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

from keras_quadreg import _validation
from keras_quadreg.attacks.base import GraphAttack, keep_first_success
from keras_quadreg.attacks.registry import register


def cleverhans_norm(threat_model):
    return np.inf if threat_model.norm == "inf" else 2


def _box(threat_model):
    return {"clip_min": threat_model.clip_min, "clip_max": threat_model.clip_max}


def _relative_step(relative_step_size, default):
    value = default if relative_step_size is None else relative_step_size
    value = _validation.positive_number("relative_step_size", value)
    if value > 1.0:
        # CleverHans asserts that a step is no longer than epsilon.
        raise ValueError(
            "Expected `relative_step_size` (the step as a fraction of epsilon) to be "
            f"in (0, 1]. Received: relative_step_size={relative_step_size!r}"
        )
    return value


class _Iterative(GraphAttack):
    """Base of the iterative CleverHans attacks: `steps` steps, each a
    fraction `relative_step_size` of epsilon, `default_step(steps)` unless
    given."""

    def __init__(self, steps, relative_step_size, default_step, name):
        super().__init__(name=name)
        self.steps = _validation.integer("steps", steps, minimum=1)
        self.relative_step_size = _relative_step(relative_step_size, default_step(self.steps))

    def _run(self, method, model_fn, x, y, threat_model, **options):
        """Calls the CleverHans `method` with the arguments all of them share."""
        eps = threat_model.epsilon
        return method(
            model_fn,
            x,
            eps,
            self.relative_step_size * eps,
            self.steps,
            cleverhans_norm(threat_model),
            y=y,
            **options,
            **_box(threat_model),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "steps": self.steps,
            "relative_step_size": self.relative_step_size,
        }


def _madry_step(steps):
    return min(1.0, 2.5 / steps)


@register("fgsm", "fgm")
class FGSM(GraphAttack):
    """Fast gradient (sign) method: one step of length epsilon.

    The l_inf version is FGSM (Goodfellow et al. 2015); with an l_2 threat
    model it is the fast gradient method along the normalized gradient.

    Example:

    ```python
    kq.evaluate_robustness(model, test_ds, epsilon=0.3, attacks=[kq.attacks.FGSM()])
    ```

    Args:
        name: Key in reports.
    """

    def perturb(self, model_fn, x, y, threat_model):
        return fast_gradient_method(
            model_fn,
            x,
            threat_model.epsilon,
            cleverhans_norm(threat_model),
            y=y,
            **_box(threat_model),
        )


@register("bim")
class BIM(_Iterative):
    """Basic iterative method (Kurakin et al. 2016): iterated FGSM from `x`.

    Example:

    ```python
    kq.attacks.BIM(steps=20)
    ```

    Args:
        steps: Number of steps, >= 1.
        relative_step_size: Step length as a fraction of epsilon, in (0, 1];
            defaults to `min(1, 2.5 / steps)`.
        name: Key in reports.
    """

    def __init__(self, steps=10, relative_step_size=None, name=None):
        super().__init__(steps, relative_step_size, _madry_step, name)

    def perturb(self, model_fn, x, y, threat_model):
        return self._run(basic_iterative_method, model_fn, x, y, threat_model, sanity_checks=False)


@register("pgd")
class PGD(_Iterative):
    """Projected gradient descent (Madry et al. 2018) with random restarts.

    Each restart starts from a uniformly random point of the ball. Per
    example the result of the first restart that fools the model is kept
    (the last restart's otherwise), so more restarts never make the attack
    weaker. This is the evaluation attack `"pgd"` of `attacks=`; the
    training-time ascent of `kq.regularizers.PGDAdversarialTraining` (the
    regularizer `"pgd"`) is `kq.ops.pgd`, with absolute step sizes.

    Example:

    ```python
    kq.attacks.PGD(steps=100, restarts=5)
    ```

    Args:
        steps: Number of steps, >= 1.
        relative_step_size: Step length as a fraction of epsilon, in (0, 1];
            defaults to `min(1, 2.5 / steps)`.
        restarts: Number of runs, >= 1.
        random_start: Whether each run starts at a random point of the ball.
        name: Key in reports.
    """

    def __init__(self, steps=20, relative_step_size=None, restarts=1, random_start=True, name=None):
        super().__init__(steps, relative_step_size, _madry_step, name)
        self.restarts = _validation.integer("restarts", restarts, minimum=1)
        self.random_start = _validation.flag("random_start", random_start)

    def perturb(self, model_fn, x, y, threat_model):
        def run():
            return self._run(
                projected_gradient_descent,
                model_fn,
                x,
                y,
                threat_model,
                rand_init=self.random_start,
            )

        return keep_first_success(model_fn, x, y, run, self.restarts)

    def get_config(self):
        return {
            **super().get_config(),
            "restarts": self.restarts,
            "random_start": self.random_start,
        }


@register("mim")
class MIM(_Iterative):
    """Momentum iterative method (Dong et al. 2018).

    Example:

    ```python
    mim = kq.attacks.get("mim", steps=10, decay=1.0)  # as `--attacks mim:steps=10` does
    ```

    Args:
        steps: Number of steps, >= 1.
        relative_step_size: Step length as a fraction of epsilon, in (0, 1];
            defaults to `1 / steps`, the paper's choice.
        decay: Decay factor of the momentum, >= 0.
        name: Key in reports.
    """

    def __init__(self, steps=10, relative_step_size=None, decay=1.0, name=None):
        super().__init__(steps, relative_step_size, lambda steps: 1.0 / steps, name)
        self.decay = _validation.non_negative_number("decay", decay)

    def perturb(self, model_fn, x, y, threat_model):
        return self._run(
            momentum_iterative_method,
            model_fn,
            x,
            y,
            threat_model,
            decay_factor=self.decay,
            sanity_checks=False,
        )

    def get_config(self):
        return {**super().get_config(), "decay": self.decay}

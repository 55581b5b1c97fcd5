"""Training-time gradient ascent on a per-example loss (FGSM and PGD steps):
the inner loop of adversarial training objectives. For evaluating robustness
use `kq.attacks` and `kq.evaluation`, which run stronger and independent
attacks."""

import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.ops import gradients


def pgd(loss_fn, x, threat_model, *, steps, step_size, x_init=None, project_init=True):
    """Projected gradient ascent on `loss_fn` within a threat model.

    The training-time PGD that `kq.regularizers.PGDAdversarialTraining` (the
    regularizer `"pgd"`, `quadreg train --method pgd`) and TRADES run. The
    attack `kq.attacks.PGD` (`"pgd"` in `attacks=`) is a different one, for
    evaluation: CleverHans's PGD, with restarts and a step given as a
    fraction of epsilon.

    Example:

    ```python
    threat = kq.ops.threat_model(0.3, norm="inf", clip_min=0.0, clip_max=1.0)
    x_adv = kq.ops.pgd(loss_fn, x, threat, steps=10, step_size=0.075,
                       x_init=threat.random_init(x, seed=0))
    ```

    Args:
        loss_fn: Callable mapping inputs to per-example losses `(batch,)`.
        x: Clean inputs, the centre of the threat ball.
        threat_model: A `ThreatModel`.
        steps: Number of ascent steps, >= 0.
        step_size: Length of each step in the threat model's norm,
            absolute, in input units (not a fraction of epsilon).
        x_init: Starting point, e.g. `threat_model.random_init(x, seed)`;
            defaults to `x`.
        project_init: Whether `x_init` is projected into the ball (and the
            box) before the first gradient. False takes the first gradient
            at `x_init` as given, e.g. at `x` plus uniform noise outside the
            input box, as Wong et al.'s FGSM training does; every step is
            projected either way.

    Returns:
        Adversarial inputs with gradients stopped.
    """
    steps = _validation.integer("steps", steps, minimum=0)
    step_size = _validation.positive_number("step_size", step_size)
    if x_init is None:
        x_adv = x
    elif project_init:
        x_adv = threat_model.project(x, x_init)
    else:
        x_adv = x_init

    def body(i, x_adv):
        _, gradient = gradients.input_gradient(loss_fn, x_adv)
        x_adv = threat_model.project(x, threat_model.step(x_adv, gradient, step_size))
        return i + 1, tf.stop_gradient(x_adv)

    if steps:
        _, x_adv = tf.while_loop(
            lambda i, _: i < steps, body, (tf.constant(0), tf.stop_gradient(x_adv))
        )
    return tf.stop_gradient(x_adv)


def fgsm(loss_fn, x, threat_model, *, step_size=None, x_init=None):
    """A single signed/normalized gradient step, projected into the ball.

    With `x_init=threat_model.random_init(x, seed)` and
    `step_size=1.25 * epsilon` this is FGSM with random start (Wong et al.
    2020). The default step size is `epsilon`.
    """
    step_size = threat_model.epsilon if step_size is None else step_size
    return pgd(loss_fn, x, threat_model, steps=1, step_size=step_size, x_init=x_init)

"""SPSA (Uesato et al. 2018), CleverHans's implementation adapted to Keras 3.

CleverHans 4.0.0's `spsa` builds its optimizer `SPSAAdam`, a subclass of
`tf.optimizers.Adam`, with `Adam(lr=...)`; Keras 3 optimizers reject `lr`
and no longer have an `lr` attribute, which `SPSAAdam` reads. The shim
below slots a Keras-3 Adam that accepts and exposes `lr` under `SPSAAdam`
in the method resolution order. The attack itself (gradient estimate,
Adam update, projection loop, margin loss) is CleverHans's code; this
module only replaces the few lines of `spsa()` that build the optimizer
and the loss, so the optimizer (which owns Keras variables) is made once,
outside the compiled function.
"""

import keras
import tensorflow as tf
from cleverhans.tf2.attacks import spsa as cleverhans_spsa

from keras_quadreg import _validation
from keras_quadreg.attacks.base import GraphAttack
from keras_quadreg.attacks.registry import register


class _KerasAdam(keras.optimizers.Adam):
    """Keras 3 Adam with the Keras 2 spelling `lr` of the learning rate."""

    def __init__(self, lr=0.01, **kwargs):
        super().__init__(learning_rate=lr, **kwargs)
        self._lr = float(lr)

    @property
    def lr(self):
        return self._lr


class _SPSAAdam(cleverhans_spsa.SPSAAdam, _KerasAdam):
    """CleverHans's `SPSAAdam`, whose `super().__init__(lr=...)` now reaches `_KerasAdam`."""


@register("spsa")
class SPSA(GraphAttack):
    """Gradient-free attack by simultaneous perturbation stochastic approximation.

    Estimates the gradient of the logit margin from `samples` random
    `+-delta` perturbations per step and takes Adam steps with it, projected
    into the threat model (Uesato et al. 2018). It never differentiates the
    model, so it is not fooled by masked or obfuscated gradients. CleverHans
    attacks one example at a time; the examples of a batch are mapped over
    inside one compiled function.

    Example:

    ```python
    # Slow (steps * samples model outputs per example): on a subset.
    report = kq.evaluate_robustness(model, test_ds, epsilon=0.3, num_examples=100,
                                    attacks=[kq.attacks.SPSA(steps=100, samples=128)])
    ```

    Args:
        steps: Adam steps per example, >= 1.
        samples: Perturbations per gradient estimate (even, >= 2).
        learning_rate: Adam learning rate, in input units.
        delta: Size of the finite-difference perturbations.
        early_stop: Whether to stop an example as soon as it is misclassified.
        name: Key in reports.
    """

    gradient_free = True
    needs_box = True

    def __init__(
        self, steps=100, samples=128, learning_rate=0.01, delta=0.01, early_stop=True, name=None
    ):
        super().__init__(name=name)
        self.steps = _validation.integer("steps", steps, minimum=1)
        self.samples = _validation.integer("samples", samples, minimum=2)
        if self.samples % 2:
            raise ValueError(
                "Expected `samples` to be even (perturbations come in +-delta pairs). "
                f"Received: samples={samples!r}"
            )
        self.learning_rate = _validation.positive_number("learning_rate", learning_rate)
        self.delta = _validation.positive_number("delta", delta)
        self.early_stop = _validation.flag("early_stop", early_stop)

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        self._optimizer = _SPSAAdam(
            lr=self.learning_rate, delta=self.delta, num_samples=self.samples, num_iters=1
        )
        return super()._generate(model_fn, x, y, threat_model, seed, batch_size, verbose)

    def perturb(self, model_fn, x, y, threat_model):
        def loss_fn(x, label):
            logits = model_fn(x)
            # Minimized: negative margin, below 0 once the example is misclassified.
            return -cleverhans_spsa.margin_logit_loss(logits, label, nb_classes=logits.shape[-1])

        def project(perturbation, epsilon, input_image, clip_min=None, clip_max=None):
            return threat_model.project(input_image, input_image + perturbation) - input_image

        def attack_one(example):
            image, label = example
            return cleverhans_spsa.projected_optimization(
                loss_fn,
                image[None],
                label[None],
                threat_model.epsilon,
                self.steps,
                self._optimizer,
                threat_model.clip_min,
                threat_model.clip_max,
                early_stop_loss_threshold=0.0 if self.early_stop else None,
                project_perturbation=project,
            )[0]

        return tf.map_fn(attack_one, (x, y), fn_output_signature=x.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "steps": self.steps,
            "samples": self.samples,
            "learning_rate": self.learning_rate,
            "delta": self.delta,
            "early_stop": self.early_stop,
        }

"""Carlini-Wagner L2 (2017), CleverHans's implementation adapted to Keras 3.

CleverHans 4.0.0's `CarliniWagnerL2` resets its Adam optimizer before every
binary-search step with `for var in self.optimizer.variables(): var.assign(0)`.
On Keras 3, `variables` is a property (calling it raises `TypeError`), and
the list also holds the learning rate, which that loop would set to zero.
It also keeps one optimizer for every batch, while a Keras 3 optimizer is
built for one set of variables. The shim gives CleverHans an optimizer
whose `variables()` are the Adam state (step count and moments) only, and
the subclass makes a fresh one per batch. The attack is CleverHans's code.
"""

import keras
import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.carlini_wagner_l2 import CarliniWagnerL2 as _CleverHansCW

from keras_quadreg import _validation
from keras_quadreg.attacks.base import Attack
from keras_quadreg.attacks.registry import register


class _ResettableAdam:
    """The optimizer interface CleverHans's CW uses, over a Keras 3 Adam."""

    def __init__(self, learning_rate):
        self._adam = keras.optimizers.Adam(learning_rate)

    def variables(self):
        return [v for v in self._adam.variables if v.name != "learning_rate"]

    def apply_gradients(self, grads_and_vars):
        return self._adam.apply_gradients(grads_and_vars)


class _KerasCW(_CleverHansCW):
    def _attack(self, x):
        self.optimizer = _ResettableAdam(self.learning_rate)
        return super()._attack(x)


@register("cw", "carlini_wagner", "cw_l2")
class CarliniWagnerL2(Attack):
    """Carlini-Wagner L2: the smallest l_2 perturbation that changes the class.

    A minimum-norm attack: Adam on `||delta||_2^2 + c * margin` in tanh space,
    with a binary search over `c`. Its result is then projected into the
    evaluation's threat model (scaled into an l_2 ball, or clipped into an
    l_inf ball) and counts only if it still fools the model there. The
    attack is untargeted against the model's own prediction, as in
    CleverHans; examples the model already gets wrong count as non-robust
    whatever the attack returns.

    It is an l_2 attack: clipped into an l_inf ball its examples lose much
    of their effect (on the test suite's normally trained MNIST CNN it left
    74.2 % accuracy at l_inf epsilon 0.3, where PGD leaves 0 %). The
    defaults are CleverHans's; there they took about 1.5 s per example on
    two CPU cores.

    Example:

    ```python
    kq.attacks.CarliniWagnerL2(max_iterations=1000, binary_search_steps=5)
    ```

    Args:
        max_iterations: Adam steps per binary-search step, >= 1.
        binary_search_steps: Steps of the search over the constant `c`, >= 1.
        learning_rate: Adam learning rate.
        initial_const: Initial `c`.
        confidence: Margin by which the adversarial class must win, >= 0.
        abort_early: Whether to stop a search step once the loss stalls.
        name: Key in reports.
    """

    needs_box = True

    def __init__(
        self,
        max_iterations=1000,
        binary_search_steps=5,
        learning_rate=5e-3,
        initial_const=1e-2,
        confidence=0.0,
        abort_early=True,
        name=None,
    ):
        super().__init__(name=name)
        self.max_iterations = _validation.integer("max_iterations", max_iterations, minimum=1)
        self.binary_search_steps = _validation.integer(
            "binary_search_steps", binary_search_steps, minimum=1
        )
        self.learning_rate = _validation.positive_number("learning_rate", learning_rate)
        self.initial_const = _validation.positive_number("initial_const", initial_const)
        self.confidence = _validation.non_negative_number("confidence", confidence)
        self.abort_early = _validation.flag("abort_early", abort_early)

    def _generate(self, model_fn, x, y, threat_model, seed, batch_size, verbose):
        # CleverHans's CW handles images (batch, h, w, c) only: attack a
        # (batch, features, 1, 1) view and restore the shape for the model.
        shape = x.shape[1:]

        def flat_model_fn(flat):
            return model_fn(tf.reshape(flat, (-1, *shape)))

        attack = _KerasCW(
            flat_model_fn,
            batch_size=batch_size,
            clip_min=threat_model.clip_min,
            clip_max=threat_model.clip_max,
            binary_search_steps=self.binary_search_steps,
            max_iterations=self.max_iterations,
            abort_early=self.abort_early,
            confidence=self.confidence,
            initial_const=self.initial_const,
            learning_rate=self.learning_rate,
        )
        flat = x.reshape(len(x), -1, 1, 1)
        out = np.empty_like(flat)
        progress = keras.utils.Progbar(len(x), verbose=verbose, unit_name="example")
        for start in range(0, len(x), batch_size):
            end = min(start + batch_size, len(x))
            out[start:end] = attack.attack(flat[start:end])
            progress.update(end)
        return out.reshape(x.shape)

    def get_config(self):
        return {
            **super().get_config(),
            "max_iterations": self.max_iterations,
            "binary_search_steps": self.binary_search_steps,
            "learning_rate": self.learning_rate,
            "initial_const": self.initial_const,
            "confidence": self.confidence,
            "abort_early": self.abort_early,
        }

"""`RobustAccuracy`: robust accuracy on held-out data, logged every few epochs."""

import keras

from keras_quadreg import _outputs, _validation, ops
from keras_quadreg.attacks._runner import Predictor
from keras_quadreg.evaluation.robustness import (
    prepare_classifier,
    prepare_examples,
    resolve_attacks,
)


def check_every(every):
    return _validation.integer("every", every, minimum=1)


class RobustAccuracy(keras.callbacks.Callback):
    """Logs the accuracy under an attack on validation data at epoch ends.

    Writes `{prefix}{attack}_accuracy` (e.g. `val_pgd_accuracy`) into the
    epoch's `logs`, so `History`, the progress bar and callbacks listed
    after this one (`TensorBoard`, `ModelCheckpoint(monitor=...)`,
    `EarlyStopping`) see it. An example counts if it is classified
    correctly both clean and attacked, as in `kq.evaluate_robustness`.
    The examples, the attack and its seed are the same every epoch. On
    epochs it skips (`every > 1`) the key is absent, as `val_*` metrics are
    with `validation_freq`.

    Example:

    ```python
    model.fit(train_ds, epochs=10, callbacks=[
        kq.callbacks.RobustAccuracy(val_ds, epsilon=0.3, attack="pgd", every=1),
        keras.callbacks.ModelCheckpoint("best.keras", monitor="val_pgd_accuracy", mode="max"),
    ])
    ```

    Args:
        data: A `tf.data.Dataset` of `(x, y)` or a pair of arrays `(x, y)`.
        epsilon: Radius of the threat ball.
        norm: `"inf"` or `2`.
        attack: An attack name, class or object (see `kq.attacks.get`).
        every: Evaluate at the end of every `every`-th epoch.
        num_examples: Evaluate the first `num_examples` examples of `data`;
            None takes all.
        batch_size: Examples attacked together.
        seed: Seed of the attack.
        clip_min: Lower bound of valid inputs, or None for no box.
        clip_max: Upper bound of valid inputs, or None.
        from_logits: Whether the model outputs logits; None infers it.
        prefix: Prefix of the log key.
    """

    def __init__(
        self,
        data,
        epsilon,
        norm="inf",
        attack="pgd",
        every=1,
        num_examples=None,
        batch_size=128,
        seed=0,
        clip_min=0.0,
        clip_max=1.0,
        from_logits=None,
        prefix="val_",
    ):
        super().__init__()
        self.threat_model = ops.threat_model(epsilon, norm, clip_min, clip_max)
        (self.attack,) = resolve_attacks([attack])
        self.every = check_every(every)
        self.batch_size = _validation.integer("batch_size", batch_size, minimum=1)
        self.seed = _validation.integer("seed", seed)
        self.from_logits = _outputs.check_from_logits(from_logits)
        if not isinstance(prefix, str):
            raise ValueError(f"Expected `prefix` to be a string. Received: prefix={prefix!r}")
        self.key = f"{prefix}{self.attack.name}_accuracy"
        self._data, self._num_examples = data, num_examples
        self._examples = None

    def on_train_begin(self, logs=None):
        # Bad data, or an attack that cannot run on it, fails before the
        # first epoch, not after it.
        x, y = self._prepare()
        _, _, num_classes = prepare_classifier(self.model, self.from_logits, x, y, self.batch_size)
        self.attack.check_classes(num_classes)
        self.attack.check_inputs(x.shape)

    def _prepare(self):
        if self._examples is None:
            self._examples = prepare_examples(
                self._data, self._num_examples, self.model, self.threat_model
            )
        return self._examples

    def robust_accuracy(self):
        """Accuracy of the current model under the attack.

        Raises:
            ValueError: If the model's weights, or its outputs on the clean
                or attacked examples, are not finite (NaN scores would
                predict class 0: a plausible accuracy to select a
                checkpoint by).
        """
        x, y = self._prepare()
        _validation.finite_weights(self.model)
        model_fn, _, _ = prepare_classifier(self.model, self.from_logits, x, y, self.batch_size)
        predict = Predictor(model_fn, self.batch_size)
        clean = predict(x, check_finite=True, what=f"examples of {self.key}")
        x_adv = self.attack.generate(
            model_fn, x, y, self.threat_model, seed=self.seed, batch_size=self.batch_size
        )
        adversarial = predict(x_adv, check_finite=True, what=f"adversarial examples of {self.key}")
        return float(((clean == y) & (adversarial == y)).mean())

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and (epoch + 1) % self.every == 0:
            try:
                logs[self.key] = self.robust_accuracy()
            except ValueError as error:
                raise ValueError(f"At the end of epoch {epoch + 1}: {error}") from None

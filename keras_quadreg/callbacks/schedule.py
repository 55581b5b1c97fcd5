"""`RegularizerSchedule`: ramps regularizer hyperparameters over the first epochs."""

import numbers

import keras

from keras_quadreg import _validation


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class RegularizerSchedule(keras.callbacks.Callback):
    """Ramps `epsilon`, `weight` (or any numeric hyperparameter) of a
    `QuadRegModel`'s regularizer at the start of each epoch.

    A number is a target reached linearly over the first `ramp_epochs`
    epochs: at epoch `e` (from 0) the value is
    `start * target + (1 - start) * target * min(1, (e + 1) / ramp_epochs)`,
    so the first epoch already trains at `target / ramp_epochs` (with
    `start=0`) and epoch `ramp_epochs - 1` at the target. A callable
    `schedule(epoch) -> value` sets any other schedule. Values are applied
    with `QuadRegModel.update_regularizer`, which retraces the training step
    when they change (so, with a ramp, only during the first
    `ramp_epochs` epochs), and logged under their names at epoch ends.

    Example:

    ```python
    model.fit(train_ds, epochs=20, callbacks=[
        kq.callbacks.RegularizerSchedule(ramp_epochs=5, epsilon=0.3, weight=1.0)])
    kq.callbacks.RegularizerSchedule(beta=lambda epoch: min(6.0, 1.0 + epoch))  # TRADES
    ```

    Args:
        ramp_epochs: Length of the linear ramps, >= 1; needed when a
            target is a number.
        start: Starting fraction of each target, in [0, 1).
        verbose: 1 prints the values when they change.
        **schedules: Hyperparameter names (see `regularizer.tunable()`)
            mapped to a target number or a callable of the epoch.
    """

    def __init__(self, ramp_epochs=None, start=0.0, verbose=0, **schedules):
        super().__init__()
        if not schedules:
            raise ValueError(
                "Expected at least one hyperparameter to schedule, e.g. "
                "RegularizerSchedule(ramp_epochs=5, epsilon=0.3). Received: none"
            )
        for name, value in schedules.items():
            if not (callable(value) or _is_number(value)):
                raise ValueError(
                    f"Expected `{name}` to be a target number or a callable of the epoch. "
                    f"Received: {name}={value!r}"
                )
        if any(_is_number(v) for v in schedules.values()):
            if ramp_epochs is None:
                raise ValueError(
                    "Expected `ramp_epochs` with a target number to ramp to. "
                    "Received: ramp_epochs=None"
                )
            ramp_epochs = _validation.integer("ramp_epochs", ramp_epochs, minimum=1)
        self.ramp_epochs = ramp_epochs
        self.start = _validation.non_negative_number("start", start)
        if self.start >= 1:
            raise ValueError(f"Expected `start` to be in [0, 1). Received: start={start!r}")
        _validation.verbose(verbose)
        self.verbose = verbose
        self.schedules = schedules

    def value(self, name, epoch):
        """The scheduled value of `name` at `epoch`."""
        schedule = self.schedules[name]
        if callable(schedule):
            return schedule(epoch)
        progress = min(1.0, (epoch + 1) / self.ramp_epochs)
        return schedule * (self.start + (1.0 - self.start) * progress)

    def on_train_begin(self, logs=None):
        update = getattr(self.model, "update_regularizer", None)
        regularizer = getattr(self.model, "regularizer", None)
        if update is None or regularizer is None:
            raise ValueError(
                "RegularizerSchedule changes the regularizer of a kq.QuadRegModel. "
                f"Received: a {type(self.model).__name__} with regularizer={regularizer!r}"
            )
        unknown = sorted(set(self.schedules) - set(regularizer.tunable()))
        if unknown:
            raise ValueError(
                f"Expected hyperparameters of {type(regularizer).__name__} from "
                f"{regularizer.tunable()}. Received: {unknown}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        regularizer = self.model.regularizer
        values = {name: self.value(name, epoch) for name in self.schedules}
        changed = {k: v for k, v in values.items() if getattr(regularizer, k) != v}
        if changed:
            self.model.update_regularizer(**changed)
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: RegularizerSchedule set "
                    + ", ".join(f"{k}={v:g}" for k, v in changed.items())
                )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for name in self.schedules:
                logs[name] = float(getattr(self.model.regularizer, name))

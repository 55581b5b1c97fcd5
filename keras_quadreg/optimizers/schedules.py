"""Learning-rate schedules of the robust-training literature, by name."""

import itertools
import math

import keras

from keras_quadreg import _validation

SCHEDULES = ("constant", "cyclic", "piecewise", "cosine")


@keras.saving.register_keras_serializable(package="keras_quadreg")
class TriangularCyclic(keras.optimizers.schedules.LearningRateSchedule):
    """One triangular cycle: linear up to a peak, then linear down.

    The "cyclic" schedule of fast adversarial training (Wong et al. 2020,
    "Fast is better than free"; Smith & Topin's one-cycle policy): the rate
    rises linearly from `initial_learning_rate` at step 0 to
    `maximal_learning_rate` at step `peak_fraction * total_steps`, falls
    linearly to `final_learning_rate` at `total_steps`, and stays there.
    Wong et al.'s MNIST recipe is `TriangularCyclic(5e-3, 10 * steps_per_epoch)`
    (peak at 2/5 of training, from and to 0). They set the rate of the `i`-th
    step from `i + 1`; here step `i` gets the rate at `i` (the optimizer's
    `iterations` before the update), one step earlier.

    Example:

    ```python
    schedule = kq.optimizers.TriangularCyclic(5e-3, total_steps=10 * 600)
    model.compile(optimizer=keras.optimizers.Adam(schedule), ...)
    ```

    Args:
        maximal_learning_rate: Rate at the peak, > 0.
        total_steps: Length of the cycle in optimizer steps, >= 1.
        peak_fraction: Where the peak is, as a fraction of `total_steps`
            in [0, 1].
        initial_learning_rate: Rate at step 0, in [0, `maximal_learning_rate`].
        final_learning_rate: Rate at `total_steps` and after, in [0,
            `maximal_learning_rate`].
        name: Name of the schedule.

    Returns:
        The learning rate at a step, when called with the step.
    """

    def __init__(
        self,
        maximal_learning_rate,
        total_steps,
        peak_fraction=0.4,
        initial_learning_rate=0.0,
        final_learning_rate=0.0,
        name="TriangularCyclic",
    ):
        super().__init__()
        self.maximal_learning_rate = float(
            _validation.positive_number("maximal_learning_rate", maximal_learning_rate)
        )
        self.total_steps = _validation.integer("total_steps", total_steps, minimum=1)
        self.peak_fraction = float(_validation.non_negative_number("peak_fraction", peak_fraction))
        if self.peak_fraction > 1:
            raise ValueError(
                f"Expected `peak_fraction` in [0, 1]. Received: peak_fraction={peak_fraction!r}"
            )
        self.initial_learning_rate = float(
            _validation.non_negative_number("initial_learning_rate", initial_learning_rate)
        )
        self.final_learning_rate = float(
            _validation.non_negative_number("final_learning_rate", final_learning_rate)
        )
        if max(self.initial_learning_rate, self.final_learning_rate) > self.maximal_learning_rate:
            raise ValueError(
                "Expected `initial_learning_rate` and `final_learning_rate` at most "
                "`maximal_learning_rate`, the peak of the cycle. Received: "
                f"initial_learning_rate={initial_learning_rate!r}, "
                f"final_learning_rate={final_learning_rate!r}, "
                f"maximal_learning_rate={maximal_learning_rate!r}"
            )
        self.name = name

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        peak = self.peak_fraction * self.total_steps
        top, total = self.maximal_learning_rate, float(self.total_steps)
        # The denominators are kept away from 0 for a peak at either end,
        # where their branch is never selected.
        rising = self.initial_learning_rate + (top - self.initial_learning_rate) * step / max(
            peak, 1e-12
        )
        falling = top + (self.final_learning_rate - top) * (step - peak) / max(total - peak, 1e-12)
        return ops.where(
            step < peak,
            rising,
            ops.where(step < total, falling, ops.cast(self.final_learning_rate, "float32")),
        )

    def get_config(self):
        return {
            "maximal_learning_rate": self.maximal_learning_rate,
            "total_steps": self.total_steps,
            "peak_fraction": self.peak_fraction,
            "initial_learning_rate": self.initial_learning_rate,
            "final_learning_rate": self.final_learning_rate,
            "name": self.name,
        }


def learning_rate_schedule(
    schedule,
    learning_rate,
    *,
    epochs,
    steps_per_epoch,
    warmup_epochs=0.0,
    milestones=(),
    decay=0.1,
    peak_fraction=0.4,
):
    """A learning rate, constant or scheduled over a training of `epochs` epochs.

    - `"constant"`: `learning_rate` throughout (a float is returned).
    - `"cyclic"`: `TriangularCyclic` from 0 up to `learning_rate` at
      `peak_fraction` of training and back to 0 (Wong et al. 2020).
    - `"piecewise"`: `learning_rate`, multiplied by `decay` at each epoch of
      `milestones` (Madry et al. 2018, Rice et al. 2020: 0.1 at the middle
      and three quarters of training).
    - `"cosine"`: linear warm-up from 0 over `warmup_epochs`, then cosine
      decay to 0 at the end (Loshchilov & Hutter 2017).

    Arguments a schedule does not use are checked all the same.

    Example:

    ```python
    rate = kq.optimizers.learning_rate_schedule(
        "piecewise", 0.1, epochs=100, steps_per_epoch=391, milestones=(50, 75))
    ```

    Args:
        schedule: One of `"constant"`, `"cyclic"`, `"piecewise"`, `"cosine"`.
        learning_rate: The peak (or initial) rate, > 0.
        epochs: Length of training in epochs, >= 1.
        steps_per_epoch: Optimizer steps per epoch, >= 1.
        warmup_epochs: Warm-up of `"cosine"`, in epochs (a fraction allowed),
            less than `epochs`.
        milestones: Epochs (increasing, within training, each starting its
            rate at another optimizer step after the first) where
            `"piecewise"` multiplies the rate by `decay`.
        decay: Factor of `"piecewise"` at each milestone, in (0, 1].
        peak_fraction: Where `"cyclic"` peaks, a fraction of training in
            [0, 1].

    Returns:
        A float or a `keras.optimizers.schedules.LearningRateSchedule`.
    """
    schedule = _validation.choice("schedule", schedule, SCHEDULES)
    learning_rate = float(_validation.positive_number("learning_rate", learning_rate))
    epochs = _validation.integer("epochs", epochs, minimum=1)
    steps_per_epoch = _validation.integer("steps_per_epoch", steps_per_epoch, minimum=1)
    # Every argument is checked, whichever schedule uses it.
    warmup = float(_validation.non_negative_number("warmup_epochs", warmup_epochs))
    decay = float(_validation.positive_number("decay", decay))
    if decay > 1:
        raise ValueError(f"Expected `decay` in (0, 1]. Received: decay={decay!r}")
    peak_fraction = float(_validation.non_negative_number("peak_fraction", peak_fraction))
    if peak_fraction > 1:
        raise ValueError(
            f"Expected `peak_fraction` in [0, 1]. Received: peak_fraction={peak_fraction!r}"
        )
    if not isinstance(milestones, (list, tuple)):
        raise ValueError(
            f"Expected `milestones` to be a list of epochs. Received: milestones={milestones!r}"
        )
    milestones = [_validation.positive_number("milestones", m) for m in milestones]
    total = epochs * steps_per_epoch
    if schedule == "constant":
        return learning_rate
    if schedule == "cyclic":
        return TriangularCyclic(learning_rate, total, peak_fraction=peak_fraction)
    if schedule == "piecewise":
        increasing = all(a < b for a, b in itertools.pairwise(milestones))
        if not milestones or not increasing or milestones[-1] >= epochs:
            raise ValueError(
                f"Expected `milestones` to be increasing epochs within the {epochs} of training "
                f"for the 'piecewise' schedule. Received: milestones={milestones}"
            )
        # The step each milestone's rate starts at; two on one step would
        # skip a rate, one at step 0 would skip the first.
        starts = [round(m * steps_per_epoch) for m in milestones]
        if starts[0] < 1 or any(a >= b for a, b in itertools.pairwise(starts)):
            raise ValueError(
                f"Expected `milestones` to start their rates at distinct steps after the first; "
                f"with {steps_per_epoch} step{'s' * (steps_per_epoch > 1)} per epoch they "
                f"start at steps {starts}. "
                f"Received: milestones={milestones}"
            )
        # Keras keeps a value through its boundary step: the last step before the milestone.
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [start - 1 for start in starts],
            [learning_rate * decay**i for i in range(len(milestones) + 1)],
        )
    warmup_steps = round(warmup * steps_per_epoch)
    if warmup_steps >= total:
        raise ValueError(
            f"Expected `warmup_epochs` to end before the {epochs} epochs ({total} steps) of "
            f"training do; it lasts {warmup_steps} steps. Received: warmup_epochs={warmup_epochs!r}"
        )
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(learning_rate, total)
    return keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps
    )


OPTIMIZERS = ("adam", "sgd")


def optimizer(name, learning_rate, *, weight_decay=0.0):
    """Adam, or SGD with Nesterov momentum 0.9, with decoupled weight decay.

    Weight decay is Keras's, decoupled from the gradient (Loshchilov &
    Hutter 2019: `w -= learning_rate * weight_decay * w` each step, AdamW
    for Adam), not PyTorch SGD's L2 term added to the gradient; with SGD
    the two differ only through the momentum.

    Example:

    ```python
    kq.optimizers.optimizer("sgd", 0.1, weight_decay=5e-4)
    ```

    Args:
        name: `"adam"` or `"sgd"`.
        learning_rate: A float > 0 or a `LearningRateSchedule`.
        weight_decay: Decoupled weight decay, >= 0; 0 for none.

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    name = _validation.choice("optimizer", name, OPTIMIZERS)
    scheduled = isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule)
    number = isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool)
    if not (scheduled or (number and math.isfinite(learning_rate) and learning_rate > 0)):
        raise ValueError(
            "Expected `learning_rate` to be a finite positive number or a "
            "keras.optimizers.schedules.LearningRateSchedule. "
            f"Received: learning_rate={learning_rate!r}"
        )
    weight_decay = float(_validation.non_negative_number("weight_decay", weight_decay))
    decay = weight_decay or None
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, weight_decay=decay)
    return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=decay)

"""The interface every regularizer and training objective implements."""

import random
import typing

import tensorflow as tf

from keras_quadreg import _registry, _validation
from keras_quadreg._config import Configurable


class Terms(typing.NamedTuple):
    """What a regularizer contributes to one training step.

    The step minimizes `compiled_loss(y, loss_y_pred) + weight * mean(penalty)`
    (plus the model's own `losses`), with `mean` the compiled loss's reduction
    so sample weights and `tf.distribute` scaling apply to both terms alike.

    Attributes:
        y_pred: Predictions on the clean inputs; compiled metrics and the
            logged `clean_loss` use them.
        loss_y_pred: Predictions the compiled loss is minimized on: `y_pred`
            for a regularizer, predictions on adversarial inputs for
            adversarial training.
        penalty: Per-example regularizer values `(batch,)`, or None.
        weight: Weight of the penalty in the objective.
    """

    y_pred: typing.Any
    loss_y_pred: typing.Any
    penalty: typing.Any = None
    weight: float = 0.0


class Regularizer(Configurable):
    """Base class of regularizers and adversarial training objectives.

    A subclass implements `compute(step) -> Terms`, where `step` is a
    `kq.models.TrainingStep`: the batch, the model's training function
    (`step.forward` once, the training pass; `step.replay` for every other
    pass) and the per-example compiled loss. Register it with one line in
    `keras_quadreg/regularizers/__init__.py` to make it selectable by name.

    Args:
        name: Key under which the penalty is logged; defaults to the
            snake-case class name.
    """

    #: Whether `compute` returns a penalty (logged under `name`).
    has_penalty = True

    def __init__(self, name=None):
        self.name = _registry.check_name(name) or _registry.snake_case(type(self).__name__)

    def compute(self, step):
        """Returns the `Terms` of one training step."""
        raise NotImplementedError(f"{type(self).__name__} must implement `compute(step) -> Terms`.")

    @property
    def threat_model(self):
        """The `kq.ops.ThreatModel` the objective defends against, if any."""
        return None

    def _set_seed(self, seed):
        """For objectives with randomness: None draws a seed from Python's
        `random`, which `keras.utils.set_random_seed` seeds."""
        self.seed = _validation.seed(seed)
        self._seed = self.seed if seed is not None else random.randrange(2**31 - 1)

    def step_seed(self, step):
        """A stateless seed for this step: the objective's seed and the step."""
        return tf.stack([tf.constant(self._seed, tf.int32), tf.cast(step.iteration, tf.int32)])

    def tunable(self):
        """Names of the numeric hyperparameters `update` can set: real ones,
        such as `epsilon`, and integer ones, such as `iterations` or `steps`
        (not the seed, which names a stream of random numbers)."""
        return sorted(
            k
            for k, v in self.get_config().items()
            if isinstance(v, (int, float))
            and not isinstance(v, bool)
            and k != "seed"
            and hasattr(self, k)
        )

    def update(self, **values):
        """Sets numeric hyperparameters, such as `epsilon` or `iterations`, in place.

        Values are validated by the class's own constructor, and set as it
        keeps them: a real hyperparameter as a float, an integer one (which
        the constructor accepts only whole) as an int. A training step reads
        hyperparameters when it is traced: on a model, use
        `QuadRegModel.update_regularizer`, which also retraces the step.

        Example:

        ```python
        regularizer.update(epsilon=0.1, weight=0.5)
        quadratic_adversarial.update(iterations=4)
        ```

        Args:
            **values: New values by name, from `tunable()`.
        """
        tunable = self.tunable()
        unknown = sorted(set(values) - set(tunable))
        if unknown or not values:
            raise ValueError(
                f"Expected hyperparameters of {type(self).__name__} to update, from "
                f"{tunable}. Received: {unknown or 'nothing'}"
            )
        config = {**self.get_config(), **values}
        if "seed" in config:  # validating must not draw a new seed
            config["seed"] = self._seed
        validated = type(self).from_config(config)
        # epsilon first: setting it rescales step sizes, which may follow.
        for name in sorted(values, key=lambda n: n != "epsilon"):
            setattr(self, name, getattr(validated, name))

    def get_config(self):
        return {"name": self.name}


class ThreatRegularizer(Regularizer):
    """Base class of objectives defined by a threat model.

    `epsilon` can be set (e.g. by a schedule, through
    `QuadRegModel.update_regularizer`). A `step_size` is an absolute length
    in input units (the attacks' `relative_step_size` is a fraction of
    epsilon instead); setting epsilon rescales it in proportion.

    Args:
        epsilon: Radius of the threat ball, > 0.
        norm: `"inf"` or `2`.
        clip_min: Lower bound of valid inputs, or None for no box.
        clip_max: Upper bound of valid inputs, or None for no box.
        name: See `Regularizer`.
    """

    #: The default `step_size` of objectives that take gradient steps, times
    #: `epsilon / steps`: the steps together can cross the ball 2.5 times
    #: (Madry et al. 2018); single-step methods set their paper's factor.
    _step_factor = 2.5

    def __init__(self, epsilon, norm="inf", clip_min=None, clip_max=None, name=None):
        super().__init__(name=name)
        from keras_quadreg import ops

        self._threat_model = ops.threat_model(epsilon, norm, clip_min, clip_max)

    def _set_step_size(self, step_size, steps=1):
        """A positive `step_size`, by default `_step_factor * epsilon / steps`."""
        default_step = self._step_factor * self.epsilon / steps
        self.step_size = _validation.positive_number(
            "step_size", default_step if step_size is None else step_size
        )

    @property
    def threat_model(self):
        return self._threat_model

    @property
    def epsilon(self):
        return self._threat_model.epsilon

    @epsilon.setter
    def epsilon(self, value):
        old = self._threat_model
        self._threat_model = type(old)(value, old.clip_min, old.clip_max)
        if hasattr(self, "step_size"):
            self.step_size *= self._threat_model.epsilon / old.epsilon

    @property
    def norm(self):
        return self._threat_model.norm

    def get_config(self):
        threat = self._threat_model.get_config()
        return {**threat, **super().get_config()}


class AscentRegularizer(ThreatRegularizer):
    """Base class of objectives that ascend the loss from a seeded random point.

    Validates and stores the options every such objective shares; a
    subclass adds its own and passes these on as `**kwargs`.

    Args:
        epsilon, norm, clip_min, clip_max, name: As for `ThreatRegularizer`.
        step_size: Length of each step in input units (absolute, unlike the
            attacks' `relative_step_size`); defaults to
            `_step_factor * epsilon / steps`.
        seed: Seed of the random points; None draws one from Python's
            `random` (seeded by `keras.utils.set_random_seed`).
    """

    #: Gradient steps of the ascent; a multi-step subclass validates its
    #: `steps` argument into this before calling `__init__`, which the
    #: default `step_size` divides by.
    steps = 1

    def __init__(
        self,
        epsilon,
        norm="inf",
        step_size=None,
        clip_min=None,
        clip_max=None,
        name=None,
        seed=None,
    ):
        super().__init__(epsilon, norm, clip_min, clip_max, name=name)
        self._set_seed(seed)
        self._set_step_size(step_size, self.steps)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

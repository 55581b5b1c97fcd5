"""Every use of Keras internals, in one place.

keras_quadreg relies on a few parts of Keras that are not public API: the
class `keras.Model(inputs, outputs)` instantiates, trainer attributes a
custom `train_step` needs, and the input signature `keras.Model.export`
infers. Each is wrapped here with the Keras versions it was checked
against (the range setup.cfg allows and `.ci/run` tests), so a Keras
upgrade that moves one breaks this module and the smoke test
`.ci/keras_smoke.py`, not the library at large.
"""

import tensorflow as tf

# "3.12-3.15" below: checked with `.ci/keras_smoke.py` on Keras 3.12.0 (the
# lowest Keras 3 that TensorFlow 2.21 accepts) and 3.15.1 (the newest), each
# with TensorFlow 2.21.0 and 2.16.2 (the lowest setup.cfg allows), and with
# the test suite on 3.15.1 and TensorFlow 2.21.0.
from keras.src.export.export_utils import get_input_signature as _get_input_signature
from keras.src.models.functional import Functional
from keras.src.models.model import Trainer as _BackendTrainer


def init_functional(model, *args, **kwargs):
    """Initializes `model`, an instance of a `Functional` subclass, as
    `keras.Model.__init__` does for `keras.Model(inputs, outputs)` (3.12-3.15)."""
    _BackendTrainer.__init__(model)
    Functional.__init__(model, *args, **kwargs)


def input_signature(model):
    """The input signature `keras.Model.export` infers for a built model:
    functional, sequential, or subclassed after its first call (3.12-3.15)."""
    return _get_input_signature(model)


def symbolic_inputs(model):
    """The nested `keras.Input`s of a functional model, else None (3.12-3.15)."""
    return getattr(model, "_inputs_struct", None)


def symbolic_outputs(model):
    """The nested symbolic outputs of a functional model, else None (3.12-3.15)."""
    return getattr(model, "_outputs_struct", None)


def call_has_training_arg(model):
    """Whether `model.call` takes a `training` argument (3.12-3.15)."""
    return model._call_has_training_arg


def compiled_loss(model):
    """The loss container `compile` builds, or None before `compile` or
    without a loss; a new object after every `compile` (3.12-3.15)."""
    return getattr(model, "_compile_loss", None)


def compiled_loss_weights(model):
    """The `loss_weights` passed to `compile` (3.12-3.15)."""
    return model._compile_config.config.get("loss_weights")


def loss_tracker(model):
    """The `Mean` metric behind the logged `loss`, or None (3.12-3.15)."""
    return model._loss_tracker


def compute_loss(model, **kwargs):
    """`model.compute_loss`, called with or without `training` as the
    model's override accepts it (3.12-3.15)."""
    return model._compute_loss(**kwargs)


def distribute_strategy(model):
    """The strategy `model` was created under, or None (3.12-3.15)."""
    return model._distribute_strategy


class LocalBuildBatch:
    """A mixin for `keras.Model` subclasses that builds a distributed model
    from one replica's share of the first batch.

    Keras (3.12-3.15) builds a distributed model from a first batch reduced
    with `strategy.reduce("MEAN", ...)`, which fails on a nested batch under
    MultiWorkerMirroredStrategy. The batch only gives shapes and dtypes, so
    one replica's share serves.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = distribute_strategy(self)
        if iterator is not None and strategy is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: (
                        strategy.experimental_local_results(v)[0]
                        if isinstance(v, tf.distribute.DistributedValues)
                        else v
                    ),
                    next(it),
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

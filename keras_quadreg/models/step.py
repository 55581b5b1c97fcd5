"""`TrainingStep`: what a regularizer sees of one training step."""

import keras
import tensorflow as tf

from keras_quadreg import _keras_compat as compat
from keras_quadreg import _outputs


class TrainingStep:
    """One batch, the model's training function, and the compiled loss.

    Regularizers compute their terms from this object. A step has exactly
    one *training pass*, `forward`, which updates model state the way a
    plain `fit` step does (BatchNormalization moving statistics, dropout
    RNG state). Every other forward pass is a `replay`: the same function
    (same weights, same dropout masks, same pre-step state) with every state
    update discarded. So however many passes a regularizer makes, the model's
    state advances once per step.

    Attributes:
        x: The batch of inputs (floating point).
        y: The targets.
        sample_weight: Per-example weights or None.
        iteration: The optimizer's step counter, a tensor; regularizers
            derive per-step seeds from it (`Regularizer.step_seed`), so
            random starts are reproducible and survive a restore from a
            checkpoint.
        from_logits: Whether the model outputs logits, by its compiled loss,
            else its last layer (None if neither says).
    """

    def __init__(self, model, x, y, sample_weight, per_example_loss, iteration):
        self.x = x
        self.y = y
        self.sample_weight = sample_weight
        self.iteration = iteration
        self.from_logits = _outputs.infer_from_logits(model)
        self._model = model
        self._per_example_loss = per_example_loss
        # Read before the training pass can change them, so replays see
        # exactly the state the training pass saw.
        self._pinned = [(v, tf.identity(v.value)) for v in model.non_trainable_variables]
        self.forward_calls = 0

    @property
    def compute_dtype(self):
        """The dtype the model computes in (16-bit under mixed precision)."""
        return self._model.dtype_policy.compute_dtype

    def _call(self, x):
        if compat.call_has_training_arg(self._model):
            return self._model(x, training=True)
        return self._model(x)

    def keep_state_if(self, condition):
        """Undoes the training pass's state updates unless `condition` holds."""
        for variable, value in self._pinned:
            variable.assign(tf.where(condition, variable.value, value))

    def forward(self, x):
        """The step's training pass: predictions that update model state."""
        if self.forward_calls:
            raise RuntimeError(
                "`TrainingStep.forward` is the step's single training pass and "
                "runs once per step; use `replay` for further passes."
            )
        self.forward_calls += 1
        return self._call(x)

    def replay(self, x):
        """Predictions of the training function with no state update."""
        with keras.StatelessScope(state_mapping=self._pinned):
            return self._call(x)

    def sample(self, draw, seed):
        """Per-example randomness that does not depend on the replica split.

        Calls `draw(shape, seed, dtype)` for the global batch (this replica's
        batch times the number of replicas) and keeps this replica's rows, so
        a run on N replicas draws exactly what one device would for the same
        global batch. (Exact when the global batch divides evenly.)

        Example:

        ```python
        delta = step.sample(threat_model.random_perturbation, seed)
        ```
        """
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context else 1
        local = tf.shape(self.x)[0]
        shape = tf.concat([[local * replicas], tf.shape(self.x)[1:]], 0)
        values = draw(shape, seed, self.x.dtype)
        if replicas == 1:
            return values
        start = local * tf.cast(context.replica_id_in_sync_group, tf.int32)
        return values[start : start + local]

    def loss(self, y_pred):
        """Per-example compiled loss of `y_pred` against `self.y`."""
        return self._per_example_loss(self.y, y_pred)

    def replay_loss(self, x):
        """Per-example loss of a replay at `x`: the `loss_fn` for `kq.ops`."""
        return self.loss(self.replay(x))

    def training_loss(self, x):
        """`(per-example loss, predictions)` of the training pass at `x`, the
        `loss_fn` (with auxiliary output) for sharing that pass with `kq.ops`."""
        y_pred = self.forward(x)
        return self.loss(y_pred), y_pred

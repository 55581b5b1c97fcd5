"""`QuadRegModel`: a Keras model whose training step adds a regularizer."""

import keras
import tensorflow as tf

from keras_quadreg import _collect, _losses
from keras_quadreg import _keras_compat as compat
from keras_quadreg import regularizers as regularizers_lib
from keras_quadreg.models import _checks
from keras_quadreg.models.step import TrainingStep
from keras_quadreg.regularizers.base import Terms


def _functional_arguments(args, kwargs):
    return (
        len(args) == 2
        or (len(args) == 1 and "outputs" in kwargs)
        or ("inputs" in kwargs and "outputs" in kwargs)
    )


_FUNCTIONAL_VARIANTS = {}


def _functional_variant(cls):
    """`cls` with `Functional` mixed in, made once per class.

    `keras.Model.__init__` would instead rewrite `cls.__bases__` in place the
    first time `cls` is built functionally, after which subclassed models of
    `cls` (with their own `call`) no longer construct. The variant keeps the
    class's name, module and serialization key, so saved models name `cls`.
    """
    if cls not in _FUNCTIONAL_VARIANTS:
        variant = type(
            cls.__name__,
            (cls, compat.Functional),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
        )
        key = keras.saving.get_registered_name(cls)
        if ">" in key:
            package, name = key.split(">", 1)
            keras.saving.register_keras_serializable(package, name)(variant)
            keras.saving.register_keras_serializable(package, name)(cls)  # key -> cls
        _FUNCTIONAL_VARIANTS[cls] = variant
    return _FUNCTIONAL_VARIANTS[cls]


def _multi_worker(strategy):
    """Whether `strategy` all-reduces across several worker processes."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    jobs = strategy.cluster_resolver.cluster_spec().as_dict()
    return sum(len(tasks) for job, tasks in jobs.items() if job in ("chief", "worker")) > 1


@keras.saving.register_keras_serializable(package="keras_quadreg")
class QuadRegModel(compat.LocalBuildBatch, keras.Model):
    """A `keras.Model` trained with an adversarial regularizer or objective.

    The regularizer only changes `train_step`: `call`, `predict`,
    `evaluate`, callbacks, saving and export behave as for any Keras model.
    Each step computes the regularizer's `Terms` from one training pass
    (plus side-effect-free replays, see `kq.models.TrainingStep`) and
    minimizes `compiled_loss + weight * mean(penalty)`.

    Build it like a Keras model, functionally or by subclassing (pass
    `regularizer` to `super().__init__`), or wrap an existing model with
    `QuadRegModel.wrap`. Single input, single output.

    Logged metrics, under these names in `History`, callbacks and the
    progress bar: `loss` (the objective), `clean_loss` (the compiled loss on
    the clean batch), the penalty under the regularizer's `name` (unweighted;
    not for adversarial training, whose `loss` is the adversarial loss), and
    the compiled metrics on the clean batch. Evaluation logs `loss`,
    `clean_loss` and the compiled metrics. Keras infers the direction only of
    `loss` and of compiled metrics, so monitor `clean_loss` or the penalty
    with `mode="min"` (e.g. `EarlyStopping(monitor="val_clean_loss",
    mode="min")`).

    Example:

    ```python
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(h))
    model = kq.QuadRegModel(inputs, outputs,
        regularizer=kq.regularizers.QuadraticAdversarial(
            epsilon=0.3, norm="inf", iterations=1, clip_min=0.0, clip_max=1.0))
    model.compile(optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    model.fit(train_ds, validation_data=val_ds, epochs=5)
    ```

    Args:
        *args: `inputs, outputs` for a functional model (or nothing for a
            subclass).
        regularizer: A `kq.regularizers.Regularizer`, a registered name, a
            serialized config, or None for plain training.
        **kwargs: Other `keras.Model` arguments (`name`, ...).
    """

    def __new__(cls, *args, **kwargs):
        if _functional_arguments(args, kwargs) and not issubclass(cls, compat.Functional):
            cls = _functional_variant(cls)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, regularizer=None, **kwargs):
        if isinstance(self, compat.Functional):
            compat.init_functional(self, *args, **kwargs)
        elif _functional_arguments(args, kwargs):
            raise ValueError(
                "Build a functional QuadRegModel with `QuadRegModel(inputs, outputs, "
                "regularizer=...)` or `QuadRegModel.wrap(model)`; a subclass defines "
                "`call` and passes only keyword arguments such as `regularizer` and "
                f"`name` to `super().__init__`. Received: {len(args)} positional arguments"
            )
        else:
            keras.Model.__init__(self, *args, **kwargs)
        self._regularizer = regularizers_lib.get(regularizer)
        self._clean_loss_tracker = keras.metrics.Mean(name="clean_loss")
        self._penalty_tracker = None
        if self._regularizer is not None and self._regularizer.has_penalty:
            name = self._regularizer.name
            if name in ("loss", "clean_loss"):
                raise ValueError(
                    "The regularizer's `name` is its log key and must differ from "
                    f'"loss" and "clean_loss". Received: name={name!r}'
                )
            self._penalty_tracker = keras.metrics.Mean(name=name)
        self._per_example_loss = None
        if compat.symbolic_inputs(self) is not None:  # functional: check the graph now
            _checks.single(compat.symbolic_inputs(self), "input")
            _checks.single(compat.symbolic_outputs(self), "output")

    @classmethod
    def wrap(cls, model, regularizer=None, *, input_shape=None, name=None):
        """Wraps an existing Keras model, sharing its layers and weights.

        Example:

        ```python
        robust = kq.QuadRegModel.wrap(existing_model, "quadratic_adversarial" ...)
        robust = kq.QuadRegModel.wrap(subclassed_model, regularizer, input_shape=(28, 28, 1))
        ```

        Args:
            model: A Keras model with one input and one output.
            regularizer: As in the constructor.
            input_shape: Shape of one input (no batch axis). Needed when
                `model` has no `inputs` (an unbuilt subclassed model).
            name: Name of the new model; defaults to `"quadreg_" + model.name`.

        Returns:
            A functional `QuadRegModel` whose single layer is `model`.
        """
        if not isinstance(model, keras.Model):
            raise ValueError(f"Expected a keras.Model to wrap. Received: model={model!r}")
        dtype = None
        if input_shape is None:
            try:
                model_inputs = model.inputs
            except (AttributeError, ValueError, TypeError):
                model_inputs = None
            model_input = _checks.single(model_inputs, "input") if model_inputs else None
            if model_input is None:
                raise ValueError(
                    f"Cannot infer the input shape of {model.name!r}; pass `input_shape`. "
                    "Received: input_shape=None"
                )
            input_shape, dtype = tuple(model_input.shape[1:]), model_input.dtype
        inputs = keras.Input(tuple(input_shape), dtype=dtype)
        return cls(
            inputs, model(inputs), regularizer=regularizer, name=name or f"quadreg_{model.name}"
        )

    @property
    def regularizer(self):
        """The `kq.regularizers.Regularizer`, or None."""
        return self._regularizer

    def update_regularizer(self, **values):
        """Changes regularizer hyperparameters, such as `epsilon` or `weight`.

        The training step reads them as constants when it is traced. This
        sets them (validated, see `Regularizer.update`) and rebuilds
        `train_function`, so the next step is traced with the new values;
        call it between epochs, as `kq.callbacks.RegularizerSchedule` does.

        Example:

        ```python
        model.update_regularizer(epsilon=0.1, weight=0.5)
        ```

        Args:
            **values: New values by name, from `model.regularizer.tunable()`.
        """
        if self._regularizer is None:
            raise ValueError(
                "This QuadRegModel has no regularizer to update. Received: regularizer=None"
            )
        self._regularizer.update(**values)
        if self.train_function is not None:
            self.make_train_function(force=True)

    @property
    def metrics(self):
        # loss first, then our terms, then compiled and other metrics.
        ours = [m for m in (self._clean_loss_tracker, self._penalty_tracker) if m is not None]
        rest = [m for m in super().metrics if all(m is not o for o in ours)]
        head = rest[:1] if self.compiled and compat.loss_tracker(self) is not None else []
        return head + ours + rest[len(head) :]

    def _rng_states(self):
        return [v for v in self.variables if v.name == "seed_generator_state"]

    def save_own_variables(self, store):
        # Keras saves layer weights but not the RNG states of layers such as
        # Dropout. Saving them too makes a restored model (BackupAndRestore,
        # load_weights) draw the random stream an uninterrupted run would.
        super().save_own_variables(store)
        for i, state in enumerate(self._rng_states()):
            store[f"rng_{i}"] = state

    def load_own_variables(self, store):
        keys = list(store.keys())
        rng_keys = [k for k in keys if k.startswith("rng_")]
        super().load_own_variables({k: store[k] for k in keys if k not in rng_keys})
        states = self._rng_states()
        if len(rng_keys) == len(states):  # files saved without RNG states keep the current ones
            for i, state in enumerate(states):
                state.assign(store[f"rng_{i}"])

    def get_config(self):
        config = super().get_config()
        config["regularizer"] = regularizers_lib.serialize(self._regularizer)
        return config

    def _example_loss(self):
        """The compiled loss, per example; rebuilt after every `compile`."""
        compiled = compat.compiled_loss(self)
        if compiled is None:
            raise ValueError(
                "QuadRegModel needs a loss to train: call "
                "`compile(optimizer, loss=...)` first. Received: loss=None"
            )
        if self._per_example_loss is None or self._per_example_loss[0] is not compiled:
            weights = compat.compiled_loss_weights(self)
            if isinstance(weights, dict):
                weights = list(weights.values())
            if isinstance(weights, (list, tuple)):
                weights = _checks.single(list(weights), "loss weight")
            self._per_example_loss = (compiled, _losses.PerExampleLoss(self.loss, weights))
        return self._per_example_loss[1]

    def _check_input_shape(self, x):
        inputs = compat.symbolic_inputs(self)
        if inputs is not None:  # functional; a subclass's `call` says nothing in advance
            _collect.check_input_shape(_checks.single(inputs, "input").shape, x.shape)

    def _output_shape(self, x):
        outputs = compat.symbolic_outputs(self)
        if outputs is not None:
            return tf.TensorShape(_checks.single(outputs, "output").shape)
        # Subclassed: trace `call` symbolically once per input shape.
        key = tuple(x.shape)
        cached = getattr(self, "_output_shape_cache", None)
        if cached is None or cached[0] != key:
            spec = self.compute_output_spec(keras.KerasTensor(x.shape, x.dtype))
            self._output_shape_cache = (key, tf.TensorShape(_checks.single(spec, "output").shape))
        return self._output_shape_cache[1]

    def _terms(self, step):
        if self._regularizer is None:
            y_pred = step.forward(step.x)
            return Terms(y_pred, y_pred)
        terms = self._regularizer.compute(step)
        if step.forward_calls != 1:
            raise RuntimeError(
                f"{type(self._regularizer).__name__}.compute must run the step's "
                "training pass, `step.forward`, exactly once."
            )
        return terms

    def _log_term(self, tracker, per_example, sample_weight, batch_size):
        example_loss = self._example_loss()
        value = example_loss.reduce(tf.stop_gradient(per_example), sample_weight)
        tracker.update_state(example_loss.unscale(value), sample_weight=batch_size)

    def train_step(self, data):
        example_loss = self._example_loss()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        threat_model = self._regularizer.threat_model if self._regularizer else None
        x = _checks.inputs(x, threat_model)
        self._check_input_shape(x)
        y = _checks.targets(y, self._output_shape(x), example_loss.sparse)
        sample_weight = _checks.sample_weights(sample_weight)
        conditions = None
        if self._compiled_by_xla():  # which drops the assertions above
            conditions = (
                _checks.input_conditions(x, threat_model)
                + _checks.target_conditions(y, self._output_shape(x), example_loss.sparse)
                + _checks.sample_weight_conditions(sample_weight)
            )
            self._batch_messages = [message for _, message in conditions]
        batch_size = tf.shape(x)[0]
        step = TrainingStep(self, x, y, sample_weight, example_loss, self.optimizer.iterations)
        with tf.GradientTape() as tape:
            terms = self._terms(step)
            loss = compat.compute_loss(
                self, x=x, y=y, y_pred=terms.loss_y_pred, sample_weight=sample_weight, training=True
            )
            if terms.penalty is not None and terms.weight:
                penalty = example_loss.reduce(terms.penalty, sample_weight)
                loss = loss + tf.cast(terms.weight * penalty, loss.dtype)
            compat.loss_tracker(self).update_state(
                loss * tf.distribute.get_strategy().num_replicas_in_sync,
                sample_weight=batch_size,
            )
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        if conditions is None:
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        else:
            self._update_if(tf.reduce_all([holds for holds, _ in conditions]), gradients, step)
        self._log_term(self._clean_loss_tracker, step.loss(terms.y_pred), sample_weight, batch_size)
        if self._penalty_tracker is not None:
            self._log_term(self._penalty_tracker, terms.penalty, sample_weight, batch_size)
        logs = self.compute_metrics(x, y, terms.y_pred, sample_weight=sample_weight)
        if conditions is not None:
            logs[_checks.VIOLATIONS] = _checks.violations(conditions)
        return self._for_reduction(logs)

    def _compiled_by_xla(self):
        return bool(self.jit_compile) and not self.run_eagerly

    def _update_if(self, valid, gradients, step):
        """Applies `gradients`, and keeps the training pass's state updates,
        only for a valid batch: under XLA the step cannot stop before them."""
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        # Selected after the update rather than branched around it: XLA runs
        # a conditional update several times slower.
        variables = self.trainable_variables + self.optimizer.variables
        before = [tf.identity(v.value) for v in variables]
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        for variable, value in zip(variables, before):
            variable.assign(tf.where(valid, variable.value, value))
        step.keep_state_if(valid)

    def fit(self, *args, **kwargs):
        if compat.compiled_loss(self) is not None:
            _checks.outputs_match_loss(self, self._example_loss().from_logits)
        history = super().fit(*args, **kwargs)
        _checks.ran_steps(history)
        return history

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force)
        if self._compiled_by_xla():  # raise, outside the step, for the flags of a bad batch
            self.train_function = _checks.raising(self.train_function, lambda: self._batch_messages)
        return self.train_function

    def _for_reduction(self, logs):
        # Across worker processes Keras (3.15) reduces each log with
        # `strategy.reduce("MEAN", value, axis=0)`, which rejects scalars
        # (tensorflow/tensorflow#72388). Metric results are already synchronized,
        # so a one-element vector reduces back to the same value (and the
        # vector of `_checks.VIOLATIONS` a one-row matrix to that vector).
        if not _multi_worker(self.distribute_strategy):
            return logs
        return {key: tf.expand_dims(value, 0) for key, value in logs.items()}

    def test_step(self, data):
        example_loss = self._example_loss()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = _checks.inputs(x, None)
        self._check_input_shape(x)
        y = _checks.targets(y, self._output_shape(x), example_loss.sparse)
        sample_weight = _checks.sample_weights(sample_weight)
        y_pred = self(x, training=False) if compat.call_has_training_arg(self) else self(x)
        loss = compat.compute_loss(
            self, x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        batch_size = tf.shape(x)[0]
        compat.loss_tracker(self).update_state(
            loss * tf.distribute.get_strategy().num_replicas_in_sync, sample_weight=batch_size
        )
        self._log_term(self._clean_loss_tracker, example_loss(y, y_pred), sample_weight, batch_size)
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if self._penalty_tracker is not None:
            logs.pop(self._penalty_tracker.name, None)
        return self._for_reduction(logs)

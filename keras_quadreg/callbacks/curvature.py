"""`CurvatureMonitor`: input-gradient norm and input-Hessian eigenvalue."""

import keras
import tensorflow as tf

from keras_quadreg import _batch, _collect, _losses, _validation, ops
from keras_quadreg.callbacks.robust_accuracy import check_every
from keras_quadreg.ops import threat as threat_lib


def dominant_eigenvalue(loss_fn, x, iterations, seed):
    """Per-example dominant eigenvalue of the input Hessian, by power iteration.

    Starts from a random direction per example and applies `H` (a
    Hessian-vector product of `kq.ops.LocalQuadratic`, which records one
    forward pass and then costs one backward pass per product). Returns
    the Rayleigh quotient `v.Hv` of the final unit vector `v`: the
    eigenvalue of largest magnitude, with its sign.

    Args:
        loss_fn: Per-example loss `x -> (batch,)`.
        x: Inputs `(batch, ...)`.
        iterations: Power iterations, >= 1.
        seed: Seed of the starting directions.

    Returns:
        `(losses, gradient, eigenvalue)`: per-example losses, input
        gradients and eigenvalues `(batch,)`.
    """
    quadratic = ops.LocalQuadratic(loss_fn, x)
    v = _batch.safe_unit(
        tf.random.stateless_normal(tf.shape(x), threat_lib.stateless_seed(seed), dtype=x.dtype)
    )
    for _ in range(iterations):
        v = _batch.safe_unit(quadratic.hvp(v))
    return quadratic.losses, quadratic.gradient, _batch.dot(v, quadratic.hvp(v))


class CurvatureMonitor(keras.callbacks.Callback):
    """Logs how steep and how curved the loss is around validation inputs.

    At the end of every `every`-th epoch, on a fixed validation batch and
    the model's compiled loss (in inference mode), writes into `logs`:

    - `{prefix}input_gradient_norm`: mean l_2 norm of the per-example input
      gradient.
    - `{prefix}input_hessian_eigenvalue`: mean over the examples of the
      dominant eigenvalue of the per-example input Hessian (largest in
      magnitude, signed), by `iterations` steps of power iteration.

    Regularizers that penalize curvature should bring both down. List it
    before callbacks that read `logs` (`TensorBoard`, `EarlyStopping`).

    Example:

    ```python
    model.fit(train_ds, epochs=10, callbacks=[kq.callbacks.CurvatureMonitor(val_ds)])
    ```

    Args:
        data: A `tf.data.Dataset` of `(x, y)` or a pair of arrays `(x, y)`.
        num_examples: Size of the validation batch, the first examples of
            `data`.
        iterations: Power iterations, >= 1.
        every: Measure at the end of every `every`-th epoch.
        seed: Seed of the power iteration's starting directions.
        prefix: Prefix of the log keys.
    """

    def __init__(self, data, num_examples=128, iterations=10, every=1, seed=0, prefix="val_"):
        super().__init__()
        self.num_examples = _validation.integer("num_examples", num_examples, minimum=1)
        self.iterations = _validation.integer("iterations", iterations, minimum=1)
        self.every = check_every(every)
        self.seed = _validation.integer("seed", seed)
        if not isinstance(prefix, str):
            raise ValueError(f"Expected `prefix` to be a string. Received: prefix={prefix!r}")
        self.gradient_key = f"{prefix}input_gradient_norm"
        self.eigenvalue_key = f"{prefix}input_hessian_eigenvalue"
        self._data = data
        self._batch = None
        self._measure = None

    def on_train_begin(self, logs=None):
        self._measure = None  # rebuilt per fit: `compile` may have changed the loss

    def measure(self):
        """`(mean input-gradient norm, mean dominant Hessian eigenvalue)` now."""
        if self._batch is None:
            x, y = _collect.collect(self._data, self.num_examples, self.model)
            self._batch = (tf.constant(x), tf.constant(y))
        if self._measure is None:
            self._measure = self._build()
        gradient_norm, eigenvalue = self._measure(*self._batch)
        return float(gradient_norm), float(eigenvalue)

    def _build(self):
        example_loss = _losses.compiled_example_loss(self.model, "CurvatureMonitor")
        model, iterations, seed = self.model, self.iterations, self.seed

        @tf.function
        def measure(x, y):
            loss_fn = lambda x: example_loss(y, model(x, training=False))
            _, gradient, eigenvalue = dominant_eigenvalue(loss_fn, x, iterations, seed)
            return tf.reduce_mean(_batch.l2_norm(gradient)), tf.reduce_mean(eigenvalue)

        return measure

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and (epoch + 1) % self.every == 0:
            gradient_norm, eigenvalue = self.measure()
            logs[self.gradient_key] = gradient_norm
            logs[self.eigenvalue_key] = eigenvalue

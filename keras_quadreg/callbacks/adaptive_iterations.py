"""`AdaptiveIterations`: FW-AT-Adapt, the number of Frank-Wolfe steps chosen
each epoch by the distortion of a two-step Frank-Wolfe attack."""

import json
import math
import os

import keras
import tensorflow as tf

from keras_quadreg import _batch, _collect, _losses, _validation, ops

#: Log key of the probe's mean distortion.
DISTORTION_KEY = "fw_distortion"


def frank_wolfe_distortion(loss_fn, x, epsilon, iterations=2):
    """Per-example distortion of an l_inf Frank-Wolfe attack on the loss.

    Runs `iterations` Frank-Wolfe steps from `delta_0 = 0` over the l_inf
    ball of radius `epsilon` (no input box): `delta_{k+1} = (1 - gamma_k)
    delta_k + gamma_k epsilon sign(grad l(x + delta_k))`, `gamma_k = 2 /
    (k + 2)`, and returns `||delta_K||_2 / (epsilon sqrt(d))`, `d` the
    number of input coordinates: 1 when every coordinate reaches a vertex of
    the ball (the gradient's signs never changed along the path), less the
    more they changed. After two steps a coordinate is at `epsilon` if its
    two signs agree and at `epsilon / 3` if they differ.

    Example:

    ```python
    distortion = frank_wolfe_distortion(lambda x: loss(y, model(x)), x, 0.3)
    ```

    Args:
        loss_fn: Per-example loss `x -> (batch,)`.
        x: Inputs `(batch, ...)`.
        epsilon: Radius of the l_inf ball, > 0.
        iterations: Frank-Wolfe steps, >= 1.

    Returns:
        Distortions `(batch,)`, in [0, 1].
    """
    iterations = _validation.integer("iterations", iterations, minimum=1)
    delta = tf.zeros_like(x)
    for k in range(iterations):
        _, gradient = ops.input_gradient(loss_fn, x + delta)
        gamma = 2.0 / (k + 2.0)
        delta = (1.0 - gamma) * delta + gamma * epsilon * tf.sign(gradient)
    size = tf.cast(tf.reduce_prod(tf.shape(x)[1:]), x.dtype)
    return _batch.l2_norm(delta) / (epsilon * tf.sqrt(size))


def next_iterations(previous, distortion, *, threshold, increase, max_iterations):
    """FW-AT-Adapt's update of the number of steps K, from the previous epoch's.

    Above the threshold (the attack path is nearly linear, more steps would
    change little) K halves, down to 1; at or below it K grows by
    `increase`, up to `max_iterations`.

    Example:

    ```python
    next_iterations(4, 0.95, threshold=0.9, increase=2, max_iterations=15)  # 2
    ```

    Args:
        previous: The previous epoch's K, >= 1.
        distortion: The probe's mean distortion.
        threshold: The distortion ratio r.
        increase: Steps added at or below the threshold.
        max_iterations: The upper bound K_1.

    Returns:
        The K of this epoch.
    """
    if distortion > threshold:
        return max(1, previous // 2)
    return min(max_iterations, previous + increase)


def _check_threshold(threshold):
    ok = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    if not (ok and math.isfinite(threshold) and 0 < threshold <= 1):
        raise ValueError(
            "Expected `threshold` to be a number in (0, 1], a ratio to the largest "
            f"distortion, 1. Received: threshold={threshold!r}"
        )
    return float(threshold)


class AdaptiveIterations(keras.callbacks.Callback):
    """FW-AT-Adapt (Tsiligkaridis & Roberts, CVPR 2022): chooses the number
    of Frank-Wolfe steps K of each epoch from the distortion of a two-step
    Frank-Wolfe attack.

    At the start of every epoch the callback attacks the probe examples
    with `probe_iterations` (2) l_inf Frank-Wolfe steps on the model's
    compiled loss (see `frank_wolfe_distortion`), averages the distortion
    `||delta||_2 / (epsilon sqrt(d))` over them, and sets K with
    `next_iterations` from the previous epoch's K: halved (at least 1) when
    the distortion exceeds `threshold`, else increased by `increase` (at most
    `max_iterations`). The previous K of the first epoch is
    `initial_iterations`. K is set with `QuadRegModel.update_regularizer`
    (the step is retraced when K changes), so the whole epoch trains with
    it. At epoch ends the logs get K, under the hyperparameter's name
    (`iterations`), and the distortion, under `fw_distortion`.

    What the authors specify, and where from (their paper's Algorithm 2,
    and their code, `AdversarialTrainer.py`):

    - distortion: `||delta||_2 / (epsilon sqrt(d))` per example, `d` the
      input size (Algorithm 2; `l2_distortion`), averaged over the monitored
      images (the code sums it over images and divides by their number);
    - the attack measured: FW-2 (Algorithm 2, "Check FW-2 Distortion"), from
      `delta = 0`, step `gamma_k = c / (c + k)` with `c = 2`, the sign
      oracle of the l_inf ball, no clipping to the input box, the model in
      inference mode (`find_adv_input_fw`: `model.eval()`, `initialize=
      "zero"`);
    - when: once per epoch, on the epoch's first training batches, until at
      least 1,000 images were seen (the code's `num_images >= 1e3`; the
      paper's `B_m` batches);
    - the rule: `K = max(1, floor(K_0 / 2))` if the mean exceeds `r`, else
      `K = min(K_1, K_0 + 2)`, `K_0` the previous epoch's K (Algorithm 2);
      the code's step is `multi_step` (2 by default on its command line)
      and its cap `K_1 = 15`;
    - the start: `K_0 = 1` before the first epoch (the code's
      `multi_train_steps = 1`);
    - the threshold: the code's default `min_distortion_ratio=0.9` (its
      command line's default, 2, exceeds every distortion and would never
      halve K).

    Where this version differs:

    - The probe is a fixed set of examples (by default the first 1,000 of
      the data given), attacked at the start of the epoch with the model as
      it is then; the paper measures on the epoch's first training batches,
      which are new images each epoch, trains on those batches with the
      FW-2 attack itself, and sets K for the rest of the epoch only. Here
      the probe costs `probe_iterations` extra gradients per probe example
      and epoch, every training batch uses K, and a fixed probe makes the
      decision depend on the model alone, not on the order of the data.
    - The threshold test is the paper's `>` (Algorithm 2); the code tests
      `>=`. They differ only for a distortion equal to `threshold`.
    - The probe is Frank-Wolfe on the true loss, as the paper's, also for a
      `QuadraticAdversarial` regularizer, whose steps maximize a quadratic
      model of the loss: with its default `hvp="secant"`, `g + H delta =
      grad l(x0 + delta)`, so its Frank-Wolfe steps follow the true gradient
      anyway, and with exact Hessian-vector products a ReLU network's
      Hessian is nearly zero, so every step of the quadratic's FW would
      repeat the first and its distortion would be 1 whatever the loss.
    - The probe ignores the regularizer's input box (`clip_min`,
      `clip_max`), as the paper's attack does: in the box, the sign oracle
      gives 0 on a saturated pixel whose gradient points out of the box
      (MNIST's background is 0), which would lower the distortion for
      reasons of the data, not of the loss.
    - What the regularizer does with K is its own: `QuadraticAdversarial`'s
      `iterations` expands the quadratic at a random point of the ball by
      default, where the paper's FW-AT starts at `x`, and its oracle keeps
      to the input box, which the paper's does not.

    The probe has no randomness. A run resumed by
    `keras.callbacks.BackupAndRestore` continues with the K it had: each
    epoch's K and distortion are recorded in `state_path` when the epoch
    starts; an epoch that has a record reuses it (an epoch resumed in its
    middle keeps the K it started with) and the next epoch starts from it.

    Example:

    ```python
    model = kq.QuadRegModel(inputs, outputs,
        regularizer=kq.regularizers.QuadraticAdversarial(0.3, clip_min=0.0, clip_max=1.0))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_ds, epochs=10, callbacks=[
        kq.callbacks.AdaptiveIterations((x_train[:1000], y_train[:1000]))])
    ```

    Args:
        data: The probe: a `tf.data.Dataset` of `(x, y)` or a pair of arrays
            `(x, y)`; training examples, as in the paper.
        threshold: The distortion ratio r, in (0, 1].
        max_iterations: The upper bound K_1 of K, >= 1.
        increase: Steps added when the distortion is at most `threshold`,
            >= 1.
        initial_iterations: K_0 of the first epoch, in [1, max_iterations].
        num_examples: Size of the probe, the first examples of `data` (all of
            them if it has fewer).
        probe_iterations: Frank-Wolfe steps of the probe's attack, >= 1.
        batch_size: Probe examples attacked together.
        hyperparameter: The regularizer's integer hyperparameter to set:
            `"iterations"` (`QuadraticAdversarial`) or, e.g., `"steps"` (PGD,
            whose absolute `step_size` then stays as it is).
        state_path: JSON file recording each epoch's K and distortion, so a
            resumed run continues with them; None keeps them in memory only.
        verbose: 1 prints each epoch's distortion and K.
    """

    def __init__(
        self,
        data,
        threshold=0.9,
        max_iterations=15,
        increase=2,
        initial_iterations=1,
        num_examples=1000,
        probe_iterations=2,
        batch_size=256,
        hyperparameter="iterations",
        state_path=None,
        verbose=0,
    ):
        super().__init__()
        self.threshold = _check_threshold(threshold)
        self.max_iterations = _validation.integer("max_iterations", max_iterations, minimum=1)
        self.increase = _validation.integer("increase", increase, minimum=1)
        self.initial_iterations = _validation.integer(
            "initial_iterations", initial_iterations, minimum=1
        )
        if self.initial_iterations > self.max_iterations:
            raise ValueError(
                "Expected `initial_iterations` to be at most `max_iterations`. Received: "
                f"initial_iterations={initial_iterations!r}, max_iterations={max_iterations!r}"
            )
        self.num_examples = _validation.integer("num_examples", num_examples, minimum=1)
        self.probe_iterations = _validation.integer("probe_iterations", probe_iterations, minimum=1)
        self.batch_size = _validation.integer("batch_size", batch_size, minimum=1)
        if not isinstance(hyperparameter, str):
            raise ValueError(
                "Expected `hyperparameter` to be the name of an integer hyperparameter of the "
                f"regularizer, e.g. 'iterations'. Received: hyperparameter={hyperparameter!r}"
            )
        self.hyperparameter = hyperparameter
        if state_path is not None and not isinstance(state_path, (str, os.PathLike)):
            raise ValueError(
                "Expected `state_path` to be a file path or None. "
                f"Received: state_path={state_path!r}"
            )
        self.state_path = None if state_path is None else os.fspath(state_path)
        self.verbose = _validation.verbose(verbose)
        self._data = data
        self._batch = None
        self._measure = None
        self._epochs = {}  # epoch -> {"iterations": K, "distortion": d}

    def get_config(self):
        """The arguments but `data`, as plain values."""
        return {
            "threshold": self.threshold,
            "max_iterations": self.max_iterations,
            "increase": self.increase,
            "initial_iterations": self.initial_iterations,
            "num_examples": self.num_examples,
            "probe_iterations": self.probe_iterations,
            "batch_size": self.batch_size,
            "hyperparameter": self.hyperparameter,
            "state_path": self.state_path,
            "verbose": self.verbose,
        }

    def on_train_begin(self, logs=None):
        regularizer = getattr(self.model, "regularizer", None)
        if getattr(self.model, "update_regularizer", None) is None or regularizer is None:
            raise ValueError(
                "AdaptiveIterations sets the number of steps of a kq.QuadRegModel's "
                f"regularizer. Received: a {type(self.model).__name__} with "
                f"regularizer={regularizer!r}"
            )
        value = getattr(regularizer, self.hyperparameter, None)
        if self.hyperparameter not in regularizer.tunable() or not isinstance(value, int):
            integers = [
                name
                for name in regularizer.tunable()
                if isinstance(getattr(regularizer, name), int)
            ]
            raise ValueError(
                f"Expected `hyperparameter` to be an integer hyperparameter of "
                f"{type(regularizer).__name__}, from {integers}. "
                f"Received: hyperparameter={self.hyperparameter!r}"
            )
        threat = regularizer.threat_model
        if threat is None or threat.norm != "inf":
            raise ValueError(
                "AdaptiveIterations measures the distortion of l_inf Frank-Wolfe attacks: "
                "expected a regularizer with an l_inf threat model. Received: "
                f"{type(regularizer).__name__} with norm={getattr(threat, 'norm', None)!r}"
            )
        self._measure = None  # rebuilt per fit: `compile` may have changed the loss
        self._epochs = self._read_state()

    def _read_state(self):
        if self.state_path is None or not os.path.exists(self.state_path):
            return {}
        with open(self.state_path) as f:
            return {int(epoch): record for epoch, record in json.load(f)["epochs"].items()}

    def _write_state(self):
        if self.state_path is None:
            return
        folder = os.path.dirname(self.state_path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        # Written aside and renamed: a process stopped while writing leaves the old state.
        partial = f"{self.state_path}.partial"
        with open(partial, "w") as f:
            json.dump({"epochs": {str(e): r for e, r in sorted(self._epochs.items())}}, f)
        os.replace(partial, self.state_path)

    def measure(self):
        """The mean distortion of the probe's Frank-Wolfe attack on the model now."""
        if self._batch is None:
            x, y = _collect.collect(self._data, self.num_examples, self.model, at_most=True)
            self._batch = (x, y)
        if self._measure is None:
            self._measure = self._build()
        x, y = self._batch
        epsilon = tf.constant(self.model.regularizer.epsilon, tf.float32)
        total = 0.0
        for start in range(0, len(x), self.batch_size):
            end = start + self.batch_size
            total += float(
                self._measure(tf.constant(x[start:end]), tf.constant(y[start:end]), epsilon)
            )
        return total / len(x)

    def _build(self):
        example_loss = _losses.compiled_example_loss(self.model, "AdaptiveIterations")
        model, iterations = self.model, self.probe_iterations

        @tf.function
        def distortion_sum(x, y, epsilon):
            # In inference mode, as the paper's attack (model.eval()).
            loss_fn = lambda x: example_loss(y, model(x, training=False))
            return tf.reduce_sum(frank_wolfe_distortion(loss_fn, x, epsilon, iterations))

        return distortion_sum

    def on_epoch_begin(self, epoch, logs=None):
        record = self._epochs.get(epoch)
        if record is None:
            previous = self._epochs.get(epoch - 1, {}).get("iterations", self.initial_iterations)
            distortion = self.measure()
            iterations = next_iterations(
                previous,
                distortion,
                threshold=self.threshold,
                increase=self.increase,
                max_iterations=self.max_iterations,
            )
            record = {"iterations": iterations, "distortion": distortion}
            self._epochs[epoch] = record
            self._write_state()
        if getattr(self.model.regularizer, self.hyperparameter) != record["iterations"]:
            self.model.update_regularizer(**{self.hyperparameter: record["iterations"]})
        if self.verbose:
            print(
                f"Epoch {epoch + 1}: AdaptiveIterations: distortion "
                f"{record['distortion']:.4f}, {self.hyperparameter}={record['iterations']}"
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and epoch in self._epochs:
            logs[self.hyperparameter] = self._epochs[epoch]["iterations"]
            logs[DISTORTION_KEY] = float(self._epochs[epoch]["distortion"])

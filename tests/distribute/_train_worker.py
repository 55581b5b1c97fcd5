"""Training process for the fault-tolerance and multi-worker tests.

    python _train_worker.py OUT.npz [--backup DIR] [--kill-at EPOCH BATCH] [--multiworker]
                            [--objective pgd|quadreg] [--dropout RATE]

Trains a small QuadRegModel on fixed data (no shuffling: the order of every
epoch is the same in every process) and saves its final weights to OUT.npz.
"""

import argparse
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import keras_quadreg as kq  # noqa: E402


class KillAt(keras.callbacks.Callback):
    """SIGKILLs this process at a given batch: no cleanup, no final save."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.target = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.target:
            os.kill(os.getpid(), signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--backup")
    parser.add_argument("--kill-at", nargs=2, type=int)
    parser.add_argument("--multiworker", action="store_true")
    parser.add_argument("--objective", default="pgd")
    parser.add_argument("--dropout", type=float, default=0.2)
    args = parser.parse_args()

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    strategy = (
        tf.distribute.MultiWorkerMirroredStrategy()
        if args.multiworker
        else tf.distribute.get_strategy()
    )
    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 96)
    regularizer = {
        "pgd": kq.regularizers.PGDAdversarialTraining(
            0.1, steps=2, clip_min=0.0, clip_max=1.0, seed=3
        ),
        "quadreg": kq.regularizers.QuadraticAdversarial(
            0.1, iterations=2, clip_min=0.0, clip_max=1.0
        ),
    }[args.objective]
    with strategy.scope():
        inputs = keras.Input((8, 8, 1))
        h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        h = keras.layers.Dropout(args.dropout)(keras.layers.Flatten()(h))
        model = kq.QuadRegModel(inputs, keras.layers.Dense(3)(h), regularizer=regularizer)
        model.compile(
            keras.optimizers.Adam(0.01),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    callbacks = []
    if args.backup:
        callbacks.append(keras.callbacks.BackupAndRestore(args.backup))
    if args.kill_at:
        callbacks.append(KillAt(*args.kill_at))
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, callbacks=callbacks, verbose=0)
    np.savez(args.out, *[w.numpy() for w in model.weights])


if __name__ == "__main__":
    main()

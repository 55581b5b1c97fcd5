"""`EpochCounter`: which epoch a `kq.data.load` dataset serves next."""

import keras
import tensorflow as tf


class EpochCounter(keras.callbacks.Callback):
    """The epoch whose order and augmentation a dataset draws next.

    A shuffled or augmented `kq.data.load` dataset draws epoch `e` as a
    function of `(seed, e)` alone, reading `e` from its counter each time
    an iteration over it starts, and counting it up. Left to itself, the
    counter counts iterations from 0. As a callback of `fit` it follows
    `fit`'s epochs instead, so a run that `keras.callbacks.BackupAndRestore`
    restored at epoch `e` sees the data an uninterrupted run saw from `e` on.

    It sets the counter only at the first epoch of each `fit`: Keras starts
    the iteration of every later epoch as the one before ends, before
    `on_epoch_begin`.

    Example:

    ```python
    counter = kq.data.EpochCounter()
    train = kq.data.load("cifar10", "train", 128, augment=True, seed=1, epoch_counter=counter)
    model.fit(train, epochs=30, callbacks=[keras.callbacks.BackupAndRestore("backup"), counter])
    ```
    """

    def __init__(self):
        super().__init__()
        self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
        self._first_epoch = False

    def next_epoch(self):
        """The epoch to draw, counted up (called by the dataset's pipeline)."""
        return self.variable.assign_add(1) - 1

    def on_train_begin(self, logs=None):
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:
            self.variable.assign(epoch)
            self._first_epoch = False

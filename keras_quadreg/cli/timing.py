"""`TrainTimer`: the training wall-clock of a run, in its `timing.json`."""

import time

import keras


class TrainTimer(keras.callbacks.Callback):
    """Records the wall-clock of each epoch's training (validation excluded)
    in `timing.json` as it goes, so a resumed run keeps the earlier epochs."""

    def __init__(self, run):
        super().__init__()
        self.run = run
        self._epoch = self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start = epoch, time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._start is None:
            return
        timing = (
            self.run.read_json(self.run.timing)
            if self.run.timing.exists()
            else {"epoch_seconds": {}}
        )
        timing["epoch_seconds"][str(self._epoch)] = time.perf_counter() - self._start
        timing["train_seconds"] = sum(timing["epoch_seconds"].values())
        self.run.write_json(self.run.timing, timing)
        self._start = None

    def on_epoch_end(self, epoch, logs=None):
        self.on_test_begin()

"""`Checkpoints`: a run's last and best weights, or every epoch's."""

import json
import math
import os
import pathlib
import shutil

import keras

from keras_quadreg import _validation

KEEP = ("best-last", "all")
MODES = ("min", "max")


class Checkpoints(keras.callbacks.Callback):
    """Saves the weights at the end of each epoch into `directory`, keeping
    the last and the best ones (or every epoch's).

    Files (epochs counted from 1, as in `keras.callbacks.ModelCheckpoint`):

    - `last.weights.h5`: the weights after the latest epoch;
    - `best.weights.h5`: the weights of the epoch with the best finite
      `monitor`, and `best.json` (`{"epoch", "monitor", "value"}`);
    - `epoch-NNN.weights.h5` for every epoch, with `keep="all"` only.

    Each file is written beside its target and then renamed over it, so a
    run killed while saving keeps the previous file whole. The best and
    per-epoch files are hard links to the last one where the filesystem
    allows, so one epoch's weights take their disk space once.

    `best.json` carries the best value across calls to `fit`, so a run
    resumed by `keras.callbacks.BackupAndRestore` keeps the best checkpoint
    of an uninterrupted run. List this callback before `BackupAndRestore`:
    then an epoch's checkpoints are written before its backup, and a run
    killed between the two redoes that epoch rather than skip its
    checkpoints. Load a checkpoint with `model.load_weights(path)`.

    Example:

    ```python
    model.fit(train_ds, validation_data=val_ds, epochs=10, callbacks=[
        kq.callbacks.Checkpoints("run/checkpoints"),
        keras.callbacks.BackupAndRestore("run/backup")])
    model.load_weights("run/checkpoints/best.weights.h5")
    ```

    Args:
        directory: Folder of the checkpoints, created when missing.
        keep: `"best-last"` (the last and best weights) or `"all"` (also
            every epoch's).
        monitor: Name of the logged value that ranks epochs, e.g.
            `"val_loss"`, or `"loss"` without validation data.
        mode: `"min"` when lower `monitor` values are better, `"max"` when
            higher ones are.
    """

    def __init__(self, directory, keep="best-last", monitor="val_loss", mode="min"):
        super().__init__()
        if not isinstance(directory, (str, os.PathLike)) or not str(directory):
            raise ValueError(
                f"Expected `directory` to be a folder path. Received: directory={directory!r}"
            )
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                f"Expected `monitor` to be the name of a logged value, e.g. 'val_loss'. "
                f"Received: monitor={monitor!r}"
            )
        self.directory = pathlib.Path(directory)
        self.keep = _validation.choice("keep", keep, KEEP)
        self.monitor = monitor
        self.mode = _validation.choice("mode", mode, MODES)
        self.last = self.directory / "last.weights.h5"
        self.best = self.directory / "best.weights.h5"
        self.best_json = self.directory / "best.json"
        self._best = None

    def on_train_begin(self, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        self._best = json.loads(self.best_json.read_text()) if self.best_json.exists() else None
        if self._best is not None and self._best["monitor"] != self.monitor:
            raise ValueError(
                f"Expected `monitor` to be {self._best['monitor']!r}, which ranks the "
                f"checkpoints already in {self.directory}. Received: monitor={self.monitor!r}"
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"Expected `monitor` to be one of the logged values {sorted(logs)}. "
                f"Received: monitor={self.monitor!r}"
            )
        partial = _partial(self.last)
        self.model.save_weights(partial)
        os.replace(partial, self.last)
        if self.keep == "all":
            _link(self.last, self.directory / f"epoch-{epoch + 1:03d}.weights.h5")
        value = float(logs[self.monitor])
        if math.isfinite(value) and self._improves(value):
            # The weights first: killed in between, best.json still names
            # an earlier epoch, and the epoch (redone) relinks them.
            _link(self.last, self.best)
            self._best = {"epoch": epoch + 1, "monitor": self.monitor, "value": value}
            partial = _partial(self.best_json)
            partial.write_text(json.dumps(self._best, indent=2, sort_keys=True) + "\n")
            os.replace(partial, self.best_json)

    def _improves(self, value):
        if self._best is None:
            return True
        return value < self._best["value"] if self.mode == "min" else value > self._best["value"]


def _partial(path):
    """Where `path` is written before being renamed over it (Keras requires
    weights files to end in `.weights.h5`)."""
    return path.with_name(f"partial-{path.name}")


def _link(source, target):
    """Makes `target` a hard link to `source` (a copy where the filesystem
    has none), replacing it atomically."""
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)

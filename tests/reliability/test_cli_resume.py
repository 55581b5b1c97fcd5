"""`quadreg train`, SIGKILLed mid-epoch and started again, ends as an uninterrupted run,
its checkpoints included."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_quadreg  # noqa: F401 (registers QuadRegModel for load_model)
from tests.conftest import REPO, SHARED_DATA

COMMAND = [
    sys.executable,
    "-m",
    "keras_quadreg",
    "train",
    "--limit",
    "2000",
    "--epochs",
    "3",
    "--val-limit",
    "500",
    "--arch",
    "madry_cnn_small",
    "--data-dir",
    str(SHARED_DATA),
    "--verbose",
    "0",
]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _log(out):
    return out.with_name(f"{out.name}.log")


def _train(out):
    with open(_log(out), "a") as log:  # a file: a pipe nobody reads can fill up and block
        return subprocess.Popen(
            [*COMMAND, "--out", str(out)], env=ENV, stdout=log, stderr=subprocess.STDOUT
        )


def _finish(process, out):
    assert process.wait(timeout=600) == 0, _log(out).read_text()


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def _weights(run):
    return [w.numpy() for w in keras.models.load_model(run / "model.keras").weights]


def _checkpoint(run, name):
    """The weights of `checkpoints/<name>.weights.h5`, loaded into the run's model."""
    model = keras.models.load_model(run / "model.keras")
    model.load_weights(run / "checkpoints" / f"{name}.weights.h5")
    return [w.numpy() for w in model.weights]


@pytest.mark.heavy
def test_a_killed_run_resumes_to_the_history_and_weights_of_an_uninterrupted_one(tmp_path):
    uninterrupted = tmp_path / "uninterrupted"
    _finish(_train(uninterrupted), uninterrupted)

    run = tmp_path / "run"
    killed = _train(run)
    while not (run / "checkpoints" / "last.weights.h5").exists():
        assert killed.poll() is None, _log(run).read_text()
        time.sleep(0.05)
    time.sleep(1.5)  # into the second epoch
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert len(_history(run)) == 1, "killed after the second epoch"
    _finish(_train(run), run)

    history, expected = _history(run), _history(uninterrupted)
    assert [row["epoch"] for row in history] == ["0", "1", "2"]
    assert history == expected
    for a, b in zip(_weights(run), _weights(uninterrupted)):
        np.testing.assert_array_equal(a, b)
    # Only the last and best epochs are kept, and they are the uninterrupted run's.
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "best.json",
        "best.weights.h5",
        "last.weights.h5",
    ]
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert best == json.loads((uninterrupted / "checkpoints" / "best.json").read_text())
    for name in ("best", "last"):
        for a, b in zip(_checkpoint(run, name), _checkpoint(uninterrupted, name), strict=True):
            np.testing.assert_array_equal(a, b)

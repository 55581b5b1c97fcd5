import pathlib
import signal
import subprocess
import sys

import numpy as np

WORKER = pathlib.Path(__file__).with_name("_train_worker.py")


def _run(*args):
    return subprocess.run(
        [sys.executable, str(WORKER), *map(str, args)], capture_output=True, text=True, timeout=300
    )


def _weights(path):
    with np.load(path) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    backup = tmp_path / "backup"
    killed = _run(tmp_path / "never.npz", "--backup", backup, "--kill-at", 2, 3)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (backup / "latest.weights.h5").exists() and not (tmp_path / "never.npz").exists()

    resumed = _run(tmp_path / "resumed.npz", "--backup", backup)
    assert resumed.returncode == 0, resumed.stderr
    assert not backup.exists()  # BackupAndRestore deletes its backup after a finished run
    uninterrupted = _run(tmp_path / "uninterrupted.npz")
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    # Dropout masks and PGD random starts come from state saved in the backup
    # (RNG variables, the optimizer's step counter), so the runs agree bit for bit.
    for a, b in zip(_weights(tmp_path / "resumed.npz"), _weights(tmp_path / "uninterrupted.npz")):
        np.testing.assert_array_equal(a, b)

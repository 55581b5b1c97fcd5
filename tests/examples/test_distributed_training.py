import subprocess
import sys

from tests.conftest import REPO, SHARED_DATA


def test_distributed_training_example_on_two_cpu_replicas(tmp_path):
    # A fresh process, as users run it: the example configures the logical
    # CPUs before TensorFlow starts.
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "distributed_training.py"),
            "--cpu-replicas",
            "2",
            "--data-dir",
            str(SHARED_DATA),
            "--limit",
            "256",
            "--epochs",
            "2",
            "--backup-dir",
            str(tmp_path / "backup"),
            "--save",
            str(tmp_path / "m.keras"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MirroredStrategy with 2 replicas" in done.stdout
    assert "clean_loss:" in done.stdout and "val_accuracy:" in done.stdout
    assert (tmp_path / "m.keras").exists() and not (tmp_path / "backup").exists()

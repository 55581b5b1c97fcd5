"""The `quadreg` launcher (`keras_quadreg_cli`): help without TensorFlow, and
TensorFlow's C++ log lines kept off the terminal unless TF_CPP_MIN_LOG_LEVEL
asks for them."""

import os
import subprocess
import sys

import pytest

from keras_quadreg_cli import tf_logs
from tests.conftest import REPO, SHARED_DATA

BEFORE_INIT = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
)
INFO = (
    "I0000 00:00:1796161060.593882   19350 cudart_stub.cc:31] "
    "Could not find cuda drivers on your machine, GPU will not be used.\n"
)
ERROR = (
    "E0000 00:00:1796161180.443530   20044 cuda_platform.cc:52] "
    "failed call to cuInit: INTERNAL: CUDA error\n"
)
FATAL = "F0000 00:00:1796161180.443530   20044 op_kernel.cc:1] Check failed\n"
PYTHON = "/x/keras_quadreg/data/raw.py:40: UserWarning: a warning the user needs\n"
LINES = [BEFORE_INIT, INFO, PYTHON, ERROR, FATAL]


@pytest.mark.parametrize(
    "level, shown",
    [
        ("3", [PYTHON, FATAL]),
        ("2", [PYTHON, ERROR, FATAL]),
        ("1", [PYTHON, ERROR, FATAL]),
        ("0", LINES),
    ],
)
def test_the_level_applies_to_lines_written_while_loading(level, shown, monkeypatch, capfd):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)

    def load():
        for line in LINES:
            os.write(2, line.encode())
        return "loaded"

    assert tf_logs.import_quietly(load) == "loaded"
    assert capfd.readouterr().err == "".join(shown)


def test_the_level_defaults_to_3(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert tf_logs.level() == 3 and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "verbose")  # not a number: TensorFlow shows all
    assert tf_logs.level() == 0


def test_stderr_is_restored_when_loading_fails(monkeypatch, capfd):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")

    def load():
        os.write(2, INFO.encode() + PYTHON.encode())
        raise ImportError("no TensorFlow")

    with pytest.raises(ImportError, match="no TensorFlow"):
        tf_logs.import_quietly(load)
    os.write(2, b"after\n")
    assert capfd.readouterr().err == PYTHON + "after\n"


def _quadreg(*args, level=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "keras_quadreg_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_command_prints_no_tensorflow_log_lines(tmp_path):
    # A command that loads the library, then stops at a clear error.
    result = _quadreg("export", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        f"quadreg: no trained model in {tmp_path} (expected model.keras); "
        f"train one with `quadreg train --out {tmp_path}`.\n"
    )


@pytest.mark.heavy
def test_tf_cpp_min_log_level_0_shows_them(tmp_path):
    result = _quadreg("export", str(tmp_path), level="0")
    assert any(tf_logs.hidden(line, 3) for line in result.stderr.splitlines(keepends=True)), (
        result.stderr
    )


def test_help_does_not_load_tensorflow():
    script = (
        "import sys, keras_quadreg_cli\n"
        "for command in ([], ['train'], ['evaluate'], ['explain'], ['export'], ['compare']):\n"
        "    try:\n"
        "        keras_quadreg_cli.main([*command, '--help'])\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, command\n"
        "print(sorted(name for name in ('tensorflow', 'keras', 'keras_quadreg')"
        " if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: quadreg train" in result.stdout and "--keep-checkpoints" in result.stdout
    assert result.stdout.endswith("[]\n")


@pytest.mark.heavy
def test_commands_load_the_library_before_they_run(tmp_path):
    # export loads the trained model, which needs the library's Keras classes registered.
    run = str(tmp_path / "run")
    trained = _quadreg(
        "train",
        "--method",
        "standard",
        "--data-dir",
        str(SHARED_DATA),
        "--limit",
        "128",
        "--val-limit",
        "64",
        "--epochs",
        "1",
        "--arch",
        "madry_cnn_small",
        "--verbose",
        "0",
        "--out",
        run,
    )
    assert trained.returncode == 0 and trained.stderr == "", trained.stderr
    exported = _quadreg("export", run)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith(f"quadreg: exported {run}/model.keras to {run}/export/1")

"""`--require-data` turns skips for missing data, and only those, into failures."""

import os
import subprocess
import sys

from tests.conftest import REPO
from tests.missing_data import missing_data_reason

TESTS = f"""
import pytest

REASON = {missing_data_reason("/nowhere/mnist")!r}


@pytest.fixture
def data():
    pytest.skip(REASON)


def test_skipped_in_the_body():
    pytest.skip(REASON)


def test_skipped_by_a_fixture(data):
    pass


@pytest.mark.skip(reason=REASON)
def test_skipped_by_a_mark():
    pass


def test_skipped_for_another_reason():
    pytest.skip("needs a GPU")


def test_runs():
    pass
"""


def run_pytest(tmp_path, *flags):
    """Runs pytest, with only the missing-data hooks, on `TESTS` in `tmp_path`."""
    (tmp_path / "test_data_needed.py").write_text(TESTS)
    command = [sys.executable, "-m", "pytest", "-p", "tests.missing_data", "-p", "no:cacheprovider"]
    command += ["-q", "-rfEs", *flags, "test_data_needed.py"]
    # The repository on the path, for `-p tests.missing_data`; no conftest of it applies.
    # Without CI or BUILD_NUMBER, which make pytest print the short summary's reasons untruncated.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_without_the_option_a_skip_for_missing_data_is_a_skip(tmp_path):
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\n1 passed, 4 skipped in " in result.stdout, result.stdout


def test_with_the_option_a_skip_for_missing_data_fails(tmp_path):
    result = run_pytest(tmp_path, "--require-data")
    assert result.returncode == 1, result.stdout + result.stderr
    # A skip in the body fails the test; one in the setup (a fixture or a mark) errors it.
    lines = result.stdout.splitlines()
    summary = [line.split(" - ")[0] for line in lines if line.startswith(("FAILED", "ERROR"))]
    assert summary == [
        "FAILED test_data_needed.py::test_skipped_in_the_body",
        "ERROR test_data_needed.py::test_skipped_by_a_fixture",
        "ERROR test_data_needed.py::test_skipped_by_a_mark",
    ], result.stdout
    reason = (
        "--require-data: the test was skipped for missing data. Skipped: needs the raw MNIST "
        "files in /nowhere/mnist (../shared/data, or the folder KERAS_QUADREG_DATA names)\n"
    )
    assert result.stdout.count(reason) == 3, result.stdout
    assert "SKIPPED [1] test_data_needed.py:26: needs a GPU" in result.stdout
    assert "1 failed, 1 passed, 1 skipped, 2 errors" in result.stdout

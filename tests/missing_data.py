"""Skips for missing raw data, and `--require-data`, which makes them failures.

Tests that read the raw MNIST files skip, with `missing_data_reason`'s reason,
when the files are absent. Where the data are meant to be there (CI with
`../shared/data`), `--require-data` turns each such skip into a failure, so a
wrong data location cannot pass as a green run. The conftest imports these
hooks; this module imports no TensorFlow, so it is cheap to test on its own.
"""

import pytest

MISSING_DATA = "needs the raw MNIST files in"


def missing_data_reason(folder):
    """The skip reason of a test that reads the raw MNIST files in `folder`."""
    return f"{MISSING_DATA} {folder} (../shared/data, or the folder KERAS_QUADREG_DATA names)"


def pytest_addoption(parser):
    parser.addoption(
        "--require-data",
        action="store_true",
        help="fail, instead of skipping, every test that lacks the raw MNIST files",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and item.config.getoption("require_data")):
        return
    # A skip's longrepr is (path, line, "Skipped: <reason>").
    if isinstance(report.longrepr, tuple) and MISSING_DATA in report.longrepr[2]:
        report.outcome = "failed"
        report.longrepr = (
            f"--require-data: the test was skipped for missing data. {report.longrepr[2]}"
        )

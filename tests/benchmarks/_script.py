"""Loads a script of benchmarks/ as a module, for its tests to call."""

import importlib.util

from tests.conftest import REPO


def load(name):
    """The module of `benchmarks/<name>.py`, freshly executed."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

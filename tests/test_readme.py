"""The README's Python code blocks run as written."""

import re

import pytest

from tests.conftest import REPO, SHARED_DATA, missing_data_reason

README = (REPO / "README.md").read_text()

# The small-budget variant: each README text, replaced by a smaller one.
SMALL_BUDGET = {
    "limit=2048": "limit=256",
    "limit=500": "limit=64",
    "limit=8": "limit=2",
    "kq.architectures.madry_cnn()": "kq.architectures.madry_cnn(filters=(8, 16), dense_units=64)",
    "num_examples=100": "num_examples=16",
    "spsa_examples=20": "spsa_examples=4",
    'methods=["vanilla", "smoothgrad", "integrated_gradients", "gradcam"]': (
        'methods=["vanilla", "gradcam"]'
    ),
}


def python_blocks(text):
    """The code of every ```python block of a markdown text."""
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def run_blocks(blocks):
    """Runs the blocks one after the other in one namespace, as a reader would."""
    namespace = {"__name__": "readme"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    return namespace


@pytest.fixture
def offline_data(tmp_path, monkeypatch):
    """An empty working folder, with `KERAS_QUADREG_DATA` naming the raw files
    as the README's offline variant says (the tests download nothing)."""
    if not (SHARED_DATA / "mnist").exists():
        pytest.skip(missing_data_reason(SHARED_DATA / "mnist"))
    monkeypatch.setenv("KERAS_QUADREG_DATA", str(SHARED_DATA))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check_outputs(work, namespace, num_examples):
    assert namespace["report"].num_examples == num_examples
    assert namespace["masking"].checks
    assert (work / "robust.keras").exists() and (work / "explanations.png").stat().st_size > 5000
    assert (work / "models" / "quadreg_mnist" / "1" / "saved_model.pb").exists()


@pytest.mark.heavy
def test_readme_python_blocks_run_as_written(offline_data):
    namespace = run_blocks(python_blocks(README))
    check_outputs(offline_data, namespace, num_examples=100)


def test_readme_python_blocks_run_on_a_small_budget(offline_data):
    text = README
    for old, new in SMALL_BUDGET.items():
        assert old in text, old  # the variant follows the README
        text = text.replace(old, new)
    namespace = run_blocks(python_blocks(text))
    check_outputs(offline_data, namespace, num_examples=16)

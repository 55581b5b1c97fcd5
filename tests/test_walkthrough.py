"""docs/walkthrough.md's Python blocks run as written, as the README's do."""

import pytest

from tests.conftest import REPO
from tests.test_readme import (
    offline_data,  # noqa: F401 (a fixture)
    python_blocks,
    run_blocks,
)

WALKTHROUGH = (REPO / "docs" / "walkthrough.md").read_text()

# The small-budget variant: each text of the page, replaced by a smaller one.
SMALL_BUDGET = {
    "limit=10000": "limit=256",
    "limit=1000": "limit=128",
    "epochs=3": "epochs=1",
    "filters=(16, 32), dense_units=128": "filters=(8, 16), dense_units=64",
    "limit=200": "limit=16",
    "num_examples=200": "num_examples=16",
    "[0.1, 0.2, 0.3, 0.4]": "[0.15, 0.3]",
    'methods=["vanilla", "smoothgrad", "integrated_gradients", "gradcam"]': (
        'methods=["vanilla", "gradcam"]'
    ),
    "limit=6": "limit=2",
}

WRITTEN = [
    "model.keras",
    "checkpoints/best.weights.h5",
    "checkpoints/last.weights.h5",
    "report.json",
    "robust_accuracy_vs_epsilon.png",
    "explanations.png",
    "counterfactuals.png",
    "export/1/saved_model.pb",
]


def check_outputs(work, namespace, *, num_examples, images):
    assert namespace["report"].num_examples == num_examples
    assert namespace["outputs"]["class_ids"].shape == (images,)
    for name in WRITTEN:
        assert (work / "walkthrough" / name).stat().st_size > 0, name


@pytest.mark.heavy
def test_walkthrough_runs_as_written(offline_data):  # noqa: F811
    namespace = run_blocks(python_blocks(WALKTHROUGH))
    check_outputs(offline_data, namespace, num_examples=200, images=6)


def test_walkthrough_runs_on_a_small_budget(offline_data):  # noqa: F811
    text = WALKTHROUGH
    for old, new in SMALL_BUDGET.items():
        assert old in text, old  # the variant follows the page
        text = text.replace(old, new)
    namespace = run_blocks(python_blocks(text))
    check_outputs(offline_data, namespace, num_examples=16, images=2)

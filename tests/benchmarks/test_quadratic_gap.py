"""benchmarks/quadratic_gap.py: the quadratic model's predicted worst case
against the loss PGD reaches."""

import json
import shutil

from tests.benchmarks._script import load
from tests.conftest import SHARED_DATA


def _script():
    return load("quadratic_gap")


def test_prediction_matches_pgd_at_a_small_epsilon(mnist_standard_model, tmp_path, capsys):
    run = tmp_path / "standard"
    run.mkdir()
    shutil.copy(mnist_standard_model, run / "model.keras")
    (run / "config.json").write_text(json.dumps({"dataset": "mnist"}))
    output = tmp_path / "gap.json"

    rows = _script().main(
        [
            str(run),
            "--data-dir",
            str(SHARED_DATA),
            "--epsilons",
            "0.002",
            "0.3",
            "--num-examples",
            "64",
            "--output",
            str(output),
        ]
    )

    assert json.loads(output.read_text()) == rows
    assert [(row["run"], row["epsilon"]) for row in rows] == [
        ("standard", 0.002),
        ("standard", 0.3),
    ]
    small, large = rows
    # Where the loss is nearly quadratic, the predicted rise is the rise PGD finds.
    rise = small["pgd"] - small["clean"]
    assert rise > 0
    assert abs(small["predicted_k1"] - small["pgd"]) < 0.2 * rise
    assert abs(small["predicted_k3"] - small["pgd"]) < 0.2 * rise
    assert large["pgd"] > large["clean"] + 1.0
    printed = capsys.readouterr().out
    assert "| standard | 0.002 |" in printed and "| standard | 0.3 |" in printed

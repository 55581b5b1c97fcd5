"""Every example, end to end in a reduced form (few steps, small data)."""

import numpy as np

from tests.conftest import SHARED_DATA
from tests.data.conftest import write_cifar10

DATA = ["--data-dir", str(SHARED_DATA)]


def test_mnist_quadreg(example, tmp_path, capsys):
    report = example("mnist_quadreg").main(
        [
            *DATA,
            "--epochs",
            "1",
            "--limit",
            "256",
            "--num-examples",
            "32",
            "--small",
            "--save",
            str(tmp_path / "m.keras"),
        ]
    )
    assert set(report.attacks) == {"fgsm", "pgd", "mim"} and report.num_examples == 32
    assert "## Robustness report" in capsys.readouterr().out
    assert (tmp_path / "m.keras").exists()


def test_compare_regularizers(example, capsys):
    rows = example("compare_regularizers").main(
        [*DATA, "--epochs", "1", "--limit", "256", "--num-examples", "32"]
    )
    assert [row[0] for row in rows] == [
        "standard",
        "gradient norm",
        "CURE",
        "quadreg literal K=1",
        "quadreg literal K=3",
        "quadreg",
    ]
    assert all(0 <= clean <= 1 and 0 <= robust <= clean for _, clean, robust, _ in rows)
    assert "| quadreg literal K=3 |" in capsys.readouterr().out


def test_explain_predictions(example, tmp_path):
    table = example("explain_predictions").main(
        [
            *DATA,
            "--out",
            str(tmp_path),
            "--epochs",
            "1",
            "--limit",
            "256",
            "--images",
            "2",
            "--score-examples",
            "8",
        ]
    )
    assert {row["model"] for row in table.rows} == {"standard", "quadreg"}
    for name in ("explanations.png", "counterfactuals.png", "compare.png"):
        assert (tmp_path / name).stat().st_size > 5000
    assert (tmp_path / "scores.md").read_text().startswith("| model |")


def test_export_and_serve(example, tmp_path, capsys):
    floats, from_bytes, explained = example("export_and_serve").main(
        [*DATA, "--base", str(tmp_path / "quadreg_mnist"), "--epochs", "1", "--limit", "128"]
    )
    np.testing.assert_array_equal(floats["class_ids"], from_bytes["class_ids"])
    assert explained["saliency"].shape == (4, 28, 28, 1)
    assert (tmp_path / "quadreg_mnist" / "1" / "saved_model.pb").exists()
    assert '"signature_name": "predict_bytes"' in capsys.readouterr().out


def test_cifar10_resnet18_on_synthetic_cifar_files(example, tmp_path):
    write_cifar10(tmp_path)
    report = example("cifar10_resnet18").main(
        [
            "--data-dir",
            str(tmp_path),
            "--epochs",
            "1",
            "--batch-size",
            "10",
            "--limit",
            "20",
            "--num-examples",
            "6",
            "--width",
            "4",
            "--iterations",
            "2",
        ]
    )
    assert list(report.attacks) == ["pgd"] and report.num_examples == 6
    assert report.attacks["pgd"].config["steps"] == 20

"""benchmarks/leaderboard.py: the tasks each shard runs, and the board it collects."""

import json

import pytest

from tests.benchmarks._script import load


@pytest.fixture(scope="module")
def leaderboard():
    return load("leaderboard")


def test_shards_split_whole_runs_and_train_before_evaluating(leaderboard, tmp_path, capsys):
    common = ["--data-dir", "data", "--out", str(tmp_path), "--dry-run", "--datasets", "mnist"]
    rows = ["--rows", "standard", "quadreg", "pgd-3", "--seeds", "0", "1"]
    printed = []
    for shard in ("0/2", "1/2"):
        leaderboard.main([*common, *rows, "--shard", shard])
        printed.append(capsys.readouterr().out.splitlines())
    runs = [
        {line.rsplit(" ", 1)[-1] for line in lines if line.startswith("[train]")}
        for lines in printed
    ]
    assert len(runs[0]) == len(runs[1]) == 3 and not runs[0] & runs[1]
    for lines in printed:
        stages = [line.split("]")[0][1:] for line in lines]
        assert stages == ["train", "evaluate"] * 3
        for train in lines[0::2]:
            assert "--epsilon 0.3" in train
            if "--method standard" not in train:
                assert "--holdout 1000 --select-attack pgd:steps=10" in train
    evaluate = printed[0][1]
    assert "--attacks pgd:steps=40 autoattack --num-examples 1000" in evaluate


def test_explain_waits_for_the_next_seeds_standard_model(leaderboard, tmp_path, capsys):
    flags = ["--data-dir", "d", "--out", str(tmp_path), "--dry-run", "--datasets", "mnist"]
    flags += ["--rows", "quadreg", "--stage", "explain"]
    leaderboard.main(flags)
    assert capsys.readouterr().out == ""
    reference = tmp_path / "mnist" / "standard-s1"
    reference.mkdir(parents=True)
    (reference / "model.keras").write_text("")
    leaderboard.main(flags)
    out = capsys.readouterr().out
    assert out.startswith("[explain]") and f"--reference {reference}" in out


def _run_folder(root, row, seed, pgd, autoattack):
    run = root / "mnist" / f"{row}-s{seed}"
    run.mkdir(parents=True)
    attacks = {"pgd": {"accuracy": pgd}, "autoattack": {"accuracy": autoattack}}
    report = {
        "num_examples": 1000,
        "clean_accuracy": 0.99,
        "worst_case_accuracy": min(pgd, autoattack),
        "attacks": attacks,
    }
    (run / "report.json").write_text(json.dumps(report))
    (run / "config.json").write_text(json.dumps({"epochs": 10, "arch": "madry_cnn"}))
    (run / "timing.json").write_text(json.dumps({"train_seconds": 600.0}))
    (run / "selection.json").write_text(json.dumps({"epoch": 8}))
    command = f"-m keras_quadreg train --data-dir /data/raw --out {run.resolve()}"
    board = {"train": {"command": command, "commit": "abc"}, "evaluate": {"commit": "def"}}
    (run / "board.json").write_text(json.dumps(board))


def test_collate_writes_one_row_per_run_with_its_cost(leaderboard, tmp_path):
    _run_folder(tmp_path, "quadreg", 0, 0.9, 0.85)
    _run_folder(tmp_path, "pgd-3", 0, 0.91, 0.86)
    costs = tmp_path / "step_cost.json"
    costs.write_text(
        json.dumps(
            [
                {"objective": "quadreg random, adversarial, K=2", "time_ratio": 3.5},
                {"objective": "PGD-3 AT", "time_ratio": 4.0},
            ]
        )
    )
    board_path = tmp_path / "leaderboard.json"
    leaderboard.main(
        ["--out", str(tmp_path), "--stage", "collate", "--datasets", "mnist"]
        + ["--step-costs", str(costs), "--board", str(board_path)]
    )
    rows = json.loads(board_path.read_text())["rows"]
    assert [r["method"] for r in rows] == ["quadreg", "pgd-3"]
    quadreg = rows[0]
    assert quadreg["cost"] == pytest.approx(35.0) and rows[1]["cost"] == pytest.approx(40.0)
    assert (quadreg["pgd40"], quadreg["autoattack"], quadreg["worst_case"]) == (0.9, 0.85, 0.85)
    assert (quadreg["commit"], quadreg["evaluate_commit"], quadreg["selected_epoch"]) == (
        "abc",
        "def",
        8,
    )
    assert {"dataset", "epsilon", "recipe", "command", "seed", "num_examples", "clean"} <= set(
        quadreg
    )
    assert quadreg["train_seconds"] == 600.0 and quadreg["epsilon"] == 0.3
    # This machine's folders become placeholders.
    assert quadreg["command"] == (
        "-m keras_quadreg train --data-dir $KERAS_QUADREG_DATA --out OUT/mnist/quadreg-s0"
    )


def _adaptive_board(leaderboard, tmp_path, step_costs):
    """The board of one adaptive run whose epochs trained with K = 3, 5, 2."""
    assert leaderboard.ROWS["quadreg-adapt"][2][:3] == ["--method", "quadreg", "--adapt-iterations"]
    _run_folder(tmp_path, "quadreg-adapt", 0, 0.9, 0.85)
    run = tmp_path / "mnist" / "quadreg-adapt-s0"
    (run / "config.json").write_text(
        json.dumps({"epochs": 3, "arch": "madry_cnn", "adapt_iterations": True})
    )
    # Epoch 1 logged twice (a run resumed after logging it): its last row counts.
    (run / "history.csv").write_text(
        "epoch,fw_distortion,iterations,loss\n0,0.8,3,1.0\n1,0.9,4,0.9\n1,0.9,5,0.9\n2,0.95,2,0.8\n"
    )
    costs = tmp_path / "step_cost.json"
    costs.write_text(
        json.dumps(
            [
                {"objective": f"quadreg random, adversarial, K={k}", "time_ratio": ratio}
                for k, ratio in step_costs.items()
            ]
        )
    )
    board_path, table = tmp_path / "leaderboard.json", tmp_path / "leaderboard.md"
    leaderboard.main(
        ["--out", str(tmp_path), "--stage", "collate", "--datasets", "mnist", "--rows"]
        + ["quadreg-adapt", "--step-costs", str(costs), "--board", str(board_path)]
        + ["--markdown", str(table)]
    )
    (row,) = json.loads(board_path.read_text())["rows"]
    return row, table.read_text()


def test_an_adaptive_row_costs_the_sum_of_its_epochs_steps(leaderboard, tmp_path):
    row, table = _adaptive_board(leaderboard, tmp_path, {2: 3.5, 3: 4.5, 5: 6.5, 7: 8.5})
    assert row["cost"] == pytest.approx(4.5 + 6.5 + 3.5)
    assert row["mean_iterations"] == pytest.approx(10 / 3)
    assert "| 14.5 (mean K 3.33) |" in table


def test_an_adaptive_row_without_a_steps_cost_records_only_its_mean_k(leaderboard, tmp_path):
    row, table = _adaptive_board(leaderboard, tmp_path, {2: 3.5, 3: 4.5})
    assert row["cost"] is None and row["mean_iterations"] == pytest.approx(10 / 3)
    assert "| - (mean K 3.33) |" in table


def test_collate_writes_the_tables_best_autoattack_first_and_the_figure(leaderboard, tmp_path):
    _run_folder(tmp_path, "quadreg", 0, 0.9, 0.85)
    _run_folder(tmp_path, "pgd-3", 0, 0.91, 0.86)
    explanations = {
        "rows": [
            {"explanation": "vanilla", "foreground_fraction": 0.9, "deletion_auc": 0.2},
            {"explanation": "smoothgrad", "foreground_fraction": 0.5, "deletion_auc": 0.4},
            {
                "explanation": "counterfactual (L2, p>=0.5, eps<=16)",
                "counterfactual_transfer": 0.05,
                "counterfactual_median_radius": 4.5,
            },
        ]
    }
    run = tmp_path / "mnist" / "quadreg-s0"
    explanations["reference"] = str(tmp_path.resolve() / "mnist" / "standard-s1")
    (run / "explanations.json").write_text(json.dumps(explanations))
    costs = tmp_path / "step_cost.json"
    costs.write_text(json.dumps([{"objective": "PGD-3 AT", "time_ratio": 4.0}]))
    table, picture = tmp_path / "board.md", tmp_path / "board.png"
    leaderboard.main(
        ["--out", str(tmp_path), "--stage", "collate", "--datasets", "mnist"]
        + ["--step-costs", str(costs), "--markdown", str(table), "--figure", str(picture)]
        + ["--board", str(tmp_path / "board.json")]
    )
    lines = table.read_text().splitlines()
    assert (
        lines[0] == "mnist, l_inf epsilon 0.3, the first 1,000 test images (± one standard error):"
    )
    # Best AutoAttack first; the standard error of 86 % over 1,000 images is 1.1 points.
    assert lines[4] == (
        "| pgd-3 | common | 0 | 99.0 % | 91.0 ± 0.9 | 86.0 ± 1.1 | 86.0 ± 1.1 | 40.0 | 8 "
        "| 10.0 min | - | - | - | - |"
    )
    assert lines[5] == (
        "| quadreg | common | 0 | 99.0 % | 90.0 ± 0.9 | 85.0 ± 1.1 | 85.0 ± 1.1 | - | 8 "
        "| 10.0 min | 0.900 | 0.200 | 0.050 | 4.50 |"
    )
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    board = json.loads((tmp_path / "board.json").read_text())
    assert board["rows"][0]["interpretability"]["reference"] == "OUT/mnist/standard-s1"


def test_only_standard_training_keeps_its_last_epoch(leaderboard):
    for row, (_, _, flags, _) in leaderboard.ROWS.items():
        selects = "--holdout" in flags and "--select-attack" in flags
        assert selects == (row != "standard"), row

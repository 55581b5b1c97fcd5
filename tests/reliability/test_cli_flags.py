"""Every numeric flag is checked before a command writes or trains anything."""

import re

import pytest

from keras_quadreg import cli
from tests.conftest import SHARED_DATA

TRAIN = [
    "--data-dir",
    str(SHARED_DATA),
    "--limit",
    "64",
    "--val-limit",
    "0",
    "--epochs",
    "1",
    "--batch-size",
    "32",
    "--arch",
    "madry_cnn_small",
    "--verbose",
    "0",
]

BAD_TRAIN_FLAGS = [
    (["--epochs", "0"], "Expected --epochs to be an integer >= 1. Received: --epochs=0"),
    (["--epochs", "-3"], "Expected --epochs to be an integer >= 1. Received: --epochs=-3"),
    (["--lr", "-1"], "Expected --lr to be a finite number > 0. Received: --lr=-1.0"),
    (["--lr", "0"], "Expected --lr to be a finite number > 0. Received: --lr=0.0"),
    (["--lr", "nan"], "Expected --lr to be a finite number > 0. Received: --lr=nan"),
    (
        ["--batch-size", "0"],
        "Expected --batch-size to be an integer >= 1. Received: --batch-size=0",
    ),
    (["--limit", "0"], "Expected --limit to be an integer >= 1. Received: --limit=0"),
    (["--val-limit", "-5"], "Expected --val-limit to be an integer >= 0. Received: --val-limit=-5"),
    (
        ["--ramp-epochs", "-1"],
        "Expected --ramp-epochs to be an integer >= 0. Received: --ramp-epochs=-1",
    ),
    (["--epsilon", "0"], "Expected --epsilon to be a finite number > 0. Received: --epsilon=0.0"),
    (["--epsilon", "inf"], "Expected --epsilon to be a finite number > 0. Received: --epsilon=inf"),
    (
        ["--iterations", "0"],
        "Expected --iterations to be an integer >= 1. Received: --iterations=0",
    ),
    (["--weight", "-1"], "Expected --weight to be a finite number >= 0. Received: --weight=-1.0"),
    (["--fd-step", "0"], "Expected --fd-step to be a finite number > 0. Received: --fd-step=0.0"),
    (
        ["--first-order-weight", "-0.5"],
        "Expected --first-order-weight to be a finite number >= 0. Received: "
        "--first-order-weight=-0.5",
    ),
    (
        ["--second-order-weight", "nan"],
        "Expected --second-order-weight to be a finite number >= 0. Received: "
        "--second-order-weight=nan",
    ),
    (["--cure-h", "0"], "Expected --cure-h to be a finite number > 0. Received: --cure-h=0.0"),
    (
        ["--attack-steps", "0"],
        "Expected --attack-steps to be an integer >= 1. Received: --attack-steps=0",
    ),
    (
        ["--attack-step-size", "-0.1"],
        "Expected --attack-step-size to be a finite number > 0. Received: --attack-step-size=-0.1",
    ),
    (["--beta", "-1"], "Expected --beta to be a finite number >= 0. Received: --beta=-1.0"),
    (["--seed", "-1"], "Expected --seed to be an integer >= 0. Received: --seed=-1"),
]


def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "flags, message", BAD_TRAIN_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_train_rejects_a_bad_flag_before_writing_anything(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        _usage_error(["train", "--out", str(out), *TRAIN, *flags], capsys)
        == f"quadreg train: error: {message}"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["evaluate", "run", "--num-examples", "0"],
            "quadreg evaluate: error: Expected --num-examples to be an integer >= 1. Received: "
            "--num-examples=0",
        ),
        (
            ["evaluate", "run", "--eval-batch-size", "0"],
            "quadreg evaluate: error: Expected --eval-batch-size to be an integer >= 1. Received: "
            "--eval-batch-size=0",
        ),
        (
            ["evaluate", "run", "--sweep", "0.5", "-1"],
            "quadreg evaluate: error: Expected --sweep to be a finite number > 0. Received: "
            "--sweep=0.5 -1.0",
        ),
        (
            ["evaluate", "run", "--epsilon", "-0.3"],
            "quadreg evaluate: error: Expected --epsilon to be a finite number > 0. Received: "
            "--epsilon=-0.3",
        ),
        (
            ["explain", "run", "--images", "0"],
            "quadreg explain: error: Expected --images to be an integer >= 1. Received: --images=0",
        ),
        (
            ["explain", "run", "--score-examples", "0"],
            "quadreg explain: error: Expected --score-examples to be an integer >= 1. Received: "
            "--score-examples=0",
        ),
        (
            ["explain", "run", "--cf-epsilon", "0"],
            'quadreg explain: error: Expected --cf-epsilon to be "search" or a finite number > 0. '
            "Received: --cf-epsilon=0.0",
        ),
        (
            ["explain", "run", "--cf-max-epsilon", "-1"],
            "quadreg explain: error: Expected --cf-max-epsilon to be a finite number > 0. "
            "Received: --cf-max-epsilon=-1.0",
        ),
        (
            ["explain", "run", "--cf-probability", "1"],
            "quadreg explain: error: Expected --cf-probability to be a number in (0, 1). "
            "Received: --cf-probability=1.0",
        ),
        (
            ["explain", "run", "--cf-search-steps", "-1"],
            "quadreg explain: error: Expected --cf-search-steps to be an integer >= 0. "
            "Received: --cf-search-steps=-1",
        ),
        (
            ["explain", "run", "--cf-steps", "0"],
            "quadreg explain: error: Expected --cf-steps to be an integer >= 1. Received: "
            "--cf-steps=0",
        ),
        (
            ["export", "run", "--version", "0"],
            "quadreg export: error: Expected --version to be an integer >= 1. Received: "
            "--version=0",
        ),
        (
            ["compare", "--out", "c", "--epochs", "0"],
            "quadreg compare: error: Expected --epochs to be an integer >= 1. Received: --epochs=0",
        ),
        (
            ["compare", "--out", "c", "--eval-seed", "-1"],
            "quadreg compare: error: Expected --eval-seed to be an integer >= 0. Received: "
            "--eval-seed=-1",
        ),
    ],
)
def test_other_commands_reject_a_bad_flag(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _usage_error(argv, capsys) == message
    assert not any(tmp_path.iterdir())


def test_train_refuses_an_out_that_is_a_file(tmp_path):
    out = tmp_path / "run"
    out.write_text("")
    message = (
        f"quadreg train: Expected `out` to be a run folder; it is a file. Received: out='{out}'"
    )
    with pytest.raises(SystemExit, match=f"^{re.escape(message)}$"):
        cli.main(["train", "--out", str(out), *TRAIN])


def test_a_run_that_cannot_read_its_data_leaves_no_config(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(
        SystemExit, match=r"Data directory not found.*Received: --data-dir=/nonexistent$"
    ):
        cli.main(["train", "--out", str(out), *TRAIN, "--data-dir", "/nonexistent"])
    assert not (out / "config.json").exists()
    (tmp_path / "data" / "mnist").mkdir(parents=True)  # a folder without its files
    with pytest.raises(SystemExit, match=r"Raw files of mnist \(train split\) not found"):
        cli.main(["train", "--out", str(out), *TRAIN, "--data-dir", str(tmp_path / "data")])
    assert not (out / "config.json").exists()

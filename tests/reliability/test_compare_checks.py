"""`quadreg compare` checks every method, attack and path before training anything."""

import re

import pytest

from keras_quadreg import cli
from keras_quadreg.cli import train as train_lib
from tests.conftest import SHARED_DATA

FLAGS = [
    "--data-dir",
    str(SHARED_DATA),
    "--limit",
    "64",
    "--val-limit",
    "0",
    "--epochs",
    "1",
    "--verbose",
    "0",
    "--attacks",
    "fgsm",
    "--num-examples",
    "8",
]


@pytest.fixture(autouse=True)
def _no_training(monkeypatch):
    def train(*args, **kwargs):
        raise AssertionError("quadreg compare trained before checking everything")

    monkeypatch.setattr(train_lib, "train", train)


def _error(argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", *FLAGS, *argv])  # argv last: its flags win
    return exit_info.value.code


@pytest.mark.parametrize(
    "methods, message",
    [
        (
            ["standard", "quadreg:iterations=0"],
            "In the method spec 'quadreg:iterations=0': Expected `iterations` to be an integer "
            ">= 1. Received: iterations=0",
        ),
        (
            ["standard", "quadreg:iterations=2.5"],
            "In the method spec 'quadreg:iterations=2.5': Expected `iterations` to be an integer "
            ">= 1. Received: iterations=2.5",
        ),
        (
            ["standard", "quadreg:weight=-1"],
            "In the method spec 'quadreg:weight=-1': Expected `weight` to be a finite number >= 0. "
            "Received: weight=-1",
        ),
        (
            ["standard", "pgd:attack_steps=0"],
            "In the method spec 'pgd:attack_steps=0': Expected `attack_steps` to be an integer "
            ">= 1. Received: attack_steps=0",
        ),
        (
            ["standard", "pgd:epochs=0"],
            "In the method spec 'pgd:epochs=0': Expected `epochs` to be an integer >= 1. Received: "
            "epochs=0",
        ),
        (
            ["standard", "cure:lr=fast"],
            "In the method spec 'cure:lr=fast': Expected `lr` to be a finite number > 0. Received: "
            "lr='fast'",
        ),
        (
            ["standard", "quadreg:step_rule=newton"],
            "In the method spec 'quadreg:step_rule=newton': Expected `step_rule` to be one of "
            "['frank_wolfe', 'fixed_point', 'line_search']. Received: step_rule='newton'",
        ),
        (
            ["standard", "l2"],
            "In the method spec 'l2': Unknown method. Expected one of ['standard', 'cure', "
            "'fgsm-rs', 'gradient-norm', 'n-fgsm', 'pgd', 'quadreg', "
            "'trades']. Received: method='l2'",
        ),
        (
            ["standard", "quadreg:iterations"],
            "In the method spec 'quadreg:iterations': Expected options as key=value pairs, e.g. "
            "pgd:steps=40. Received: 'quadreg:iterations'",
        ),
        (["pgd", "pgd"], "Expected distinct method specs. Received: --methods pgd pgd"),
    ],
)
def test_bad_method_specs_stop_compare_before_training(methods, message, tmp_path):
    out = tmp_path / "compare"
    assert _error(["--methods", *methods, "--out", str(out)]) == f"quadreg compare: {message}"
    assert not out.exists()


def test_an_unknown_method_option_is_named(tmp_path):
    code = _error(["--methods", "standard", "quadreg:iteration=3", "--out", str(tmp_path / "c")])
    assert code.startswith(
        "quadreg compare: In the method spec 'quadreg:iteration=3': Expected method options among ["
    )
    assert code.endswith("]. Received: ['iteration']")


@pytest.mark.parametrize(
    "attacks, message",
    [
        (["pgd:steps=0"], "Expected `steps` to be an integer >= 1. Received: steps=0"),
        (
            ["fgsm", "pgd:stepz=3"],
            "Could not build PGD: PGD.__init__() got an unexpected keyword argument 'stepz'. "
            "Received: kwargs={'stepz': 3}",
        ),
        (
            ["fgsm", "pgd@ten"],
            "Expected an attack's @N between 1 and --num-examples (8). Received: pgd@ten",
        ),
        (
            ["fgsm", "pgd@0"],
            "Expected an attack's @N between 1 and --num-examples (8). Received: pgd@0",
        ),
        (
            ["pgd@4"],
            "Expected at least one attack on all --num-examples examples (without @N). "
            "Received: attacks=['pgd@4']",
        ),
    ],
)
def test_bad_attacks_stop_compare_before_training(attacks, message, tmp_path):
    out = tmp_path / "compare"
    code = _error(["--methods", "standard", "--out", str(out), "--attacks", *attacks])
    assert code.startswith("quadreg compare: ") and code.endswith(message)
    assert not out.exists()


def test_bad_paths_stop_compare_before_training(tmp_path):
    out = tmp_path / "compare"
    code = _error(["--methods", "standard", "--out", str(out), "--data-dir", "/nonexistent"])
    assert code == (
        "quadreg compare: Data directory not found: expected --data-dir to be an existing folder "
        "holding one folder of raw files per dataset; looked in /nonexistent. "
        "Received: --data-dir=/nonexistent"
    )
    out.write_text("")
    assert _error(["--methods", "standard", "--out", str(out)]) == (
        f"quadreg compare: Expected --out to be a folder; it is a file. Received: --out={out}"
    )


def test_an_interrupted_run_of_another_configuration_stops_compare_before_training(tmp_path):
    out = tmp_path / "compare"
    (out / "pgd").mkdir(parents=True)
    (out / "pgd" / "config.json").write_text('{"method": "pgd", "epochs": 99}')
    pattern = (
        re.escape(f"quadreg: {out / 'pgd'} holds an interrupted run with another configuration")
        + r" \(--epochs 99 there, 1 here; (--[a-z-]+, )*--[a-z-]+ not recorded there\); "
        + re.escape("resume it with its flags, or pass --overwrite or another --out.")
    )
    assert re.fullmatch(pattern, _error(["--methods", "standard", "pgd", "--out", str(out)]))
    assert sorted(p.name for p in out.iterdir()) == ["pgd"]

"""Recipes on the command line: their values reach the run, flags override them,
and a held-out slice of the training set chooses the run's epoch."""

import json

import keras
import numpy as np
import pytest

import keras_quadreg as kq
from keras_quadreg import cli
from keras_quadreg.cli import train as train_lib
from tests.conftest import SHARED_DATA

TINY = ["--data-dir", str(SHARED_DATA), "--limit", "128", "--val-limit", "0", "--verbose", "0"]


def test_every_recipe_names_flags_the_command_line_has():
    train = cli.parse(["train", "--out", "x"])
    for recipe in kq.recipes.RECIPES.values():
        assert recipe.source and recipe.summary
        assert set(recipe.options) <= set(vars(train)), recipe.name
        for name, value in recipe.options.items():
            assert kq.cli.bounds.violation(name, value) is None, (recipe.name, name)


def test_recipe_values_become_defaults_and_explicit_flags_win():
    args = cli.parse(["train", "--recipe", "wong2020_mnist", "--out", "x"])
    assert (args.method, args.arch, args.epochs, args.batch_size) == (
        "fgsm-rs",
        "wong_cnn",
        10,
        100,
    )
    assert (args.lr, args.lr_schedule, args.ramp_epochs) == (5e-3, "cyclic", 0)
    args = cli.parse(
        [
            "train",
            "--recipe",
            "wong2020_mnist",
            "--arch",
            "madry_cnn",
            "--epochs",
            "3",
            "--out",
            "x",
        ]
    )
    assert (args.method, args.arch, args.epochs, args.lr) == ("fgsm-rs", "madry_cnn", 3, 5e-3)
    # Other commands' parsers are untouched by a recipe.
    assert cli.parse(["train", "--out", "x"]).lr_schedule == "constant"


def test_recipe_values_reach_the_optimizer_and_the_regularizer():
    args = cli.parse(["train", "--recipe", "zhang2019_trades_mnist", "--out", "x"])
    config = train_lib.config_from_args(args)
    assert config["regularizer"]["config"]["beta"] == 6.0
    assert config["regularizer"]["config"]["steps"] == 40
    assert config["regularizer"]["config"]["step_size"] == 0.01
    model = train_lib.build_model(config, steps_per_epoch=10)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    rates = [float(optimizer._learning_rate(s)) for s in (0, 539, 540, 740, 890)]
    np.testing.assert_allclose(rates, [0.01, 0.01, 1e-3, 1e-4, 1e-5], rtol=1e-6)


def test_a_bad_recipe_name_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse(["train", "--recipe", "nope", "--out", "x"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_holdout_selects_the_epoch_and_the_run_keeps_it(tmp_path):
    out = tmp_path / "run"
    cli.main(
        [
            "train",
            "--method",
            "n-fgsm",
            "--arch",
            "madry_cnn_small",
            "--epochs",
            "3",
            "--batch-size",
            "64",
            "--lr-schedule",
            "cyclic",
            "--holdout",
            "64",
            "--select-attack",
            "pgd:steps=2",
            "--keep-checkpoints",
            "all",
            "--out",
            str(out),
            *TINY,
        ]
    )
    selection = json.loads((out / "selection.json").read_text())
    history = (out / "history.csv").read_text().splitlines()
    column = history[0].split(",").index("holdout_pgd_accuracy")
    scores = [float(row.split(",")[column]) for row in history[1:]]
    assert selection["epoch"] == 1 + int(np.argmax(scores))
    assert selection["value"] == pytest.approx(max(scores))
    assert (selection["monitor"], selection["holdout"], selection["attack"]) == (
        "holdout_pgd_accuracy",
        64,
        "pgd:steps=2",
    )
    model = keras.models.load_model(out / "model.keras")
    chosen = keras.models.load_model(out / "model.keras")
    chosen.load_weights(out / "checkpoints" / f"epoch-{selection['epoch']:03d}.weights.h5")
    for a, b in zip(model.get_weights(), chosen.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    config = json.loads((out / "config.json").read_text())
    assert config["regularizer"]["class_name"] == "NFGSM"


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--holdout", "60000"],
            "Expected `holdout` to leave training examples: fewer than the 60000 of mnist. "
            "Received: holdout=60000",
        ),
        (["--holdout", "10", "--select-attack", "nope"], "Unknown attack"),
    ],
)
def test_bad_selection_fails_before_training(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *flags, "--out", str(out), *TINY])
    assert message in str(exit_info.value)
    assert not out.exists()

"""The training-recipe options (schedules, weight decay, held-out selection,
split slices, recipes, N-FGSM, the leaderboard's flags) fail with a clear
error before any training starts or any file is written."""

import importlib.util
import json
import re

import pytest

import keras_quadreg as kq
from keras_quadreg import cli
from keras_quadreg.cli import train as train_lib
from tests.conftest import REPO, SHARED_DATA

# 64 examples in batches of 64: one step per epoch.
TRAIN = ["--data-dir", str(SHARED_DATA), "--limit", "64", "--val-limit", "0", "--batch-size"]
TRAIN += ["64", "--arch", "madry_cnn_small", "--verbose", "0"]

AUTOATTACK_10 = (
    "AutoAttack cannot run 'apgd_t' and 'fab_t' on a model with 10 classes: 'apgd_t' needs at "
    "least 11 (4 for its targeted DLR loss, target_classes + 1 = 11 for its targets); 'fab_t' "
    "needs at least 11 (target_classes + 1 = 11 for its targets). Leave them out, e.g. "
    "AutoAttack(components=['apgd_ce', 'square']), or pass target_classes=9 to run 'apgd_t' "
    "and 'fab_t'. Received: a model with 10 classes, components=['apgd_ce', 'apgd_t', 'fab_t', "
    "'square'], target_classes=10"
)


@pytest.fixture
def no_training(monkeypatch):
    def fit(*args, **kwargs):
        raise AssertionError("training started before the options were checked")

    monkeypatch.setattr(kq.QuadRegModel, "fit", fit)


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--lr-schedule", "piecewise"],
            "Expected `lr_milestones`, the epochs at which the rate is multiplied by `lr_decay`, "
            "with lr_schedule='piecewise'. Received: lr_milestones=None",
        ),
        (
            ["--lr-schedule", "piecewise", "--epochs", "3", "--lr-milestones", "1", "3"],
            "Expected `lr_milestones` to be increasing epochs within the 3 epochs of training. "
            "Received: lr_milestones=[1.0, 3.0], epochs=3",
        ),
        (
            ["--lr-schedule", "piecewise", "--epochs", "4", "--lr-milestones", "3", "2"],
            "Expected `lr_milestones` to be increasing epochs within the 4 epochs of training. "
            "Received: lr_milestones=[3.0, 2.0], epochs=4",
        ),
        (
            ["--lr-schedule", "piecewise", "--epochs", "4", "--lr-milestones", "2", "2"],
            "Expected `lr_milestones` to be increasing epochs within the 4 epochs of training. "
            "Received: lr_milestones=[2.0, 2.0], epochs=4",
        ),
        (  # one step per epoch: both milestones start their rates at step 1
            ["--lr-schedule", "piecewise", "--epochs", "2", "--lr-milestones", "1.2", "1.4"],
            "Expected `milestones` to start their rates at distinct steps after the first; with "
            "1 step per epoch they start at steps [1, 1]. Received: milestones=[1.2, 1.4]",
        ),
        (
            ["--recipe", "zhang2019_trades_mnist", "--epochs", "3", "--attack-steps", "1"],
            "Expected `lr_milestones` to be increasing epochs within the 3 epochs of training; "
            "the recipe 'zhang2019_trades_mnist' sets them for its 100 epochs: pass "
            "`lr_milestones` with `epochs`. Received: lr_milestones=[54, 74, 89], epochs=3",
        ),
        (
            ["--lr-schedule", "cosine", "--epochs", "2", "--warmup-epochs", "2"],
            "Expected `warmup_epochs` shorter than the 2 epochs of training. "
            "Received: warmup_epochs=2.0, epochs=2",
        ),
        (  # 1.9 epochs round to both steps of training
            ["--lr-schedule", "cosine", "--epochs", "2", "--warmup-epochs", "1.9"],
            "Expected `warmup_epochs` to end before the 2 epochs (2 steps) of training do; it "
            "lasts 2 steps. Received: warmup_epochs=1.9",
        ),
        (
            ["--holdout", "60000"],
            "Expected `holdout` to leave training examples: fewer than the 60000 of mnist. "
            "Received: holdout=60000",
        ),
        (  # a bad spec is a mistake with or without --holdout
            ["--select-attack", "pgd:steps=0"],
            "In the select_attack spec 'pgd:steps=0': Expected `steps` to be an integer >= 1. "
            "Received: steps=0",
        ),
        (
            ["--holdout", "100", "--select-attack", "nope"],
            "In the select_attack spec 'nope': Unknown attack. Expected one of ['apgd_ce', "
            "'apgd_dlr', 'apgd_t', 'autoattack', 'bim', 'cw', 'fab_t', 'fgsm', 'mim', 'pgd', "
            "'spsa', 'square']. Received: attack='nope'",
        ),
        (
            ["--holdout", "100", "--select-attack", "autoattack:target_classes=10"],
            f"In the select_attack spec 'autoattack:target_classes=10': {AUTOATTACK_10}",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_train_checks_recipe_options_before_reading_data_or_writing(
    flags, message, tmp_path, no_training
):
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match=f"^{re.escape(f'quadreg train: {message}')}$"):
        cli.main(["train", "--out", str(out), *TRAIN, *flags])
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--lr-peak-fraction", "1.5"],
            "Expected --lr-peak-fraction to be a number in [0, 1]. "
            "Received: --lr-peak-fraction=1.5",
        ),
        (
            ["--lr-decay", "0"],
            "Expected --lr-decay to be a number in (0, 1]. Received: --lr-decay=0.0",
        ),
        (
            ["--lr-decay", "2"],
            "Expected --lr-decay to be a number in (0, 1]. Received: --lr-decay=2.0",
        ),
        (
            ["--lr-milestones", "0", "5"],
            "Expected --lr-milestones to be a finite number > 0. Received: --lr-milestones=0.0 5.0",
        ),
        (
            ["--warmup-epochs", "-1"],
            "Expected --warmup-epochs to be a finite number >= 0. Received: --warmup-epochs=-1.0",
        ),
        (
            ["--weight-decay", "-1"],
            "Expected --weight-decay to be a finite number >= 0. Received: --weight-decay=-1.0",
        ),
        (["--holdout", "-1"], "Expected --holdout to be an integer >= 0. Received: --holdout=-1"),
        (
            ["--method", "n-fgsm", "--noise-magnitude", "nan"],
            "Expected --noise-magnitude to be a finite number >= 0. "
            "Received: --noise-magnitude=nan",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_train_rejects_out_of_range_recipe_flags(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--out", str(out), *TRAIN, *flags])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"quadreg train: error: {message}"
    assert not out.exists()


def test_a_schedule_train_cannot_build_leaves_no_run_folder(tmp_path, no_training):
    """`train` itself builds the model, optimizer and schedule before it
    writes config.json (a config made by hand skips `config_from_args`)."""
    config = train_lib.config_from_args(cli.parse(["train", "--out", "x", *TRAIN]))
    config.update(lr_schedule="piecewise", lr_milestones=[20])
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"^Expected `milestones` to be increasing epochs"):
        train_lib.train(config, out, data_dir=str(SHARED_DATA), verbose=0)
    assert not out.exists()


def test_compare_checks_every_method_schedule_before_training(tmp_path, monkeypatch):
    def train(*args, **kwargs):
        raise AssertionError("quadreg compare trained before checking everything")

    monkeypatch.setattr(train_lib, "train", train)
    out = tmp_path / "compare"
    argv = ["compare", *TRAIN, "--epochs", "2", "--attacks", "fgsm", "--num-examples", "8"]
    argv += ["--methods", "standard", "pgd:lr_schedule=piecewise,lr_milestones=1+3"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--out", str(out)])
    assert exit_info.value.code == (
        "quadreg compare: In the method spec 'pgd:lr_schedule=piecewise,lr_milestones=1+3': "
        "Expected `lr_milestones` to be increasing epochs within the 2 epochs of training. "
        "Received: lr_milestones=[1, 3], epochs=2"
    )
    select = ["--select-attack", "autoattack:target_classes=10"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv[:-1], *select, "--out", str(out)])
    assert exit_info.value.code == (
        "quadreg compare: In the method spec 'standard': In the select_attack spec "
        f"'autoattack:target_classes=10': {AUTOATTACK_10}"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "piecewise", 0.1, epochs=10, steps_per_epoch=5, milestones=5
            ),
            "Expected `milestones` to be a list of epochs. Received: milestones=5",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "piecewise", 0.1, epochs=10, steps_per_epoch=5, milestones=(5, 5)
            ),
            "Expected `milestones` to be increasing epochs within the 10 of training for the "
            "'piecewise' schedule. Received: milestones=[5.0, 5.0]",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "piecewise", 0.1, epochs=10, steps_per_epoch=2, milestones=(0.1, 5)
            ),
            "Expected `milestones` to start their rates at distinct steps after the first; with "
            "2 steps per epoch they start at steps [0, 10]. Received: milestones=[0.1, 5.0]",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "cosine", 0.1, epochs=10, steps_per_epoch=2, warmup_epochs=9.9
            ),
            "Expected `warmup_epochs` to end before the 10 epochs (20 steps) of training do; it "
            "lasts 20 steps. Received: warmup_epochs=9.9",
        ),
        (  # checked whichever schedule uses it
            lambda: kq.optimizers.learning_rate_schedule(
                "cyclic", 0.1, epochs=10, steps_per_epoch=2, decay=5
            ),
            "Expected `decay` in (0, 1]. Received: decay=5.0",
        ),
        (
            lambda: kq.optimizers.learning_rate_schedule(
                "constant", 0.1, epochs=10, steps_per_epoch=2, peak_fraction=5
            ),
            "Expected `peak_fraction` in [0, 1]. Received: peak_fraction=5.0",
        ),
        (
            lambda: kq.optimizers.TriangularCyclic(0.1, 10, initial_learning_rate=1.0),
            "Expected `initial_learning_rate` and `final_learning_rate` at most "
            "`maximal_learning_rate`, the peak of the cycle. Received: initial_learning_rate=1.0, "
            "final_learning_rate=0.0, maximal_learning_rate=0.1",
        ),
        (
            lambda: kq.optimizers.optimizer("adam", -1.0),
            "Expected `learning_rate` to be a finite positive number or a "
            "keras.optimizers.schedules.LearningRateSchedule. Received: learning_rate=-1.0",
        ),
        (
            lambda: kq.optimizers.optimizer("sgd", True),
            "Expected `learning_rate` to be a finite positive number or a "
            "keras.optimizers.schedules.LearningRateSchedule. Received: learning_rate=True",
        ),
        (
            lambda: kq.recipes.get(["wong2020_mnist"]),
            "Unknown recipe. Expected one of ['wong2020_mnist', 'madry2018_mnist', "
            "'zhang2019_trades_mnist', 'rice2020_early_stopping']. "
            "Received: name=['wong2020_mnist']",
        ),
        (
            lambda: kq.regularizers.NFGSM(0.3, noise_magnitude=-1),
            "Expected `noise_magnitude` to be a finite non-negative number. "
            "Received: noise_magnitude=-1",
        ),
        (
            lambda: kq.regularizers.NFGSM(0.3, step_size=0),
            "Expected `step_size` to be a finite positive number. Received: step_size=0",
        ),
    ],
)
def test_library_recipe_arguments(build, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build()


@pytest.mark.parametrize(
    "split, limit, message",
    [
        (  # Python would clip the bound and load all 60000
            "train[:70000]",
            None,
            "Expected the bounds of the slice of `split` between -60000 and 60000, the examples "
            "of mnist (train). Received: split='train[:70000]'",
        ),
        (
            "train[-70000:]",
            None,
            "Expected the bounds of the slice of `split` between -60000 and 60000, the examples "
            "of mnist (train). Received: split='train[-70000:]'",
        ),
        (
            "test[10:5]",
            None,
            "Expected the slice of `split` to select at least one of the 10000 examples of mnist "
            "(test). Received: split='test[10:5]'",
        ),
        (
            "train[::2]",
            None,
            "Expected `split` to be one of ['train', 'test'], optionally sliced by example "
            "indices as in 'train[:-1000]'. Received: split='train[::2]'",
        ),
        (
            "train[-100:]",
            0,
            "Expected `limit` to be an integer >= 1. Received: limit=0",
        ),
    ],
)
def test_bad_split_slices_fail_before_reading(split, limit, message, tmp_path):
    # An empty data folder: the error must come before any file is looked for.
    for load in (kq.data.load, kq.data.load_arrays):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            load("mnist", split, limit=limit, data_dir=str(tmp_path))


def test_a_slice_and_a_limit_compose(tmp_path):
    images, labels = kq.data.load_arrays("mnist", "train[-100:]", limit=30, data_dir=SHARED_DATA)
    all_images, _ = kq.data.load_arrays("mnist", "train", data_dir=SHARED_DATA)
    assert len(labels) == 30 and (images == all_images[-100:-70]).all()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected batch_size <= the number of examples (30) with drop_remainder=True, "
            "which would otherwise give no batch. Received: batch_size=64"
        ),
    ):
        kq.data.load("mnist", "train[-100:]", 64, limit=30, drop_remainder=True, data_dir=tmp_path)


@pytest.fixture(scope="module")
def leaderboard():
    spec = importlib.util.spec_from_file_location(
        "leaderboard", REPO / "benchmarks" / "leaderboard.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--shard", "2/2"],
            "argument --shard: Expected i/n with integers 0 <= i < n. Received: --shard=2/2",
        ),
        (
            ["--shard", "1"],
            "argument --shard: Expected i/n with integers 0 <= i < n. Received: --shard=1",
        ),
        (
            ["--rows", "standard", "standard"],
            "Expected distinct --rows: a repeated one would run twice and make two rows. "
            "Received: --rows standard standard",
        ),
        (
            ["--seeds", "0", "0"],
            "Expected distinct --seeds: a repeated one would run twice and make two rows. "
            "Received: --seeds 0 0",
        ),
        (["--seeds", "-1"], "Expected --seeds >= 0. Received: --seeds -1"),
        (
            ["--rows", "standard", "--masking", "quadreg", "--stage", "masking"],
            "Expected --masking rows among --rows standard. Received: --masking quadreg",
        ),
        (
            ["--rows", "standard", "--masking", "standard"],
            "Expected masking in --stage with --masking: the checks run in that stage. "
            "Received: --stage train evaluate explain",
        ),
        (
            ["--stage", "train", "collate"],
            "Expected collate alone in --stage: it reads what the other stages wrote. "
            "Received: --stage train collate",
        ),
        (
            ["--board", "board.json"],
            "Expected --board with --stage collate only, which reads or writes it. "
            "Received: --stage train evaluate explain",
        ),
        (
            ["--stage", "collate", "--step-costs", "missing.json"],
            "Expected --step-costs to be a file. Received: --step-costs=missing.json",
        ),
        (
            ["--stage", "collate", "--board", "missing/board.json"],
            "Expected --board in an existing folder. Received: --board=missing/board.json",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_leaderboard_rejects_bad_arguments_before_any_stage(
    leaderboard, flags, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(leaderboard.subprocess, "run", None)  # no stage may run
    with pytest.raises(SystemExit) as exit_info:
        leaderboard.main(["--data-dir", "data", "--out", "out", *flags])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"leaderboard.py: error: {message}"
    assert not any(tmp_path.iterdir())


def test_leaderboard_needs_a_data_dir_to_run_stages(leaderboard, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("KERAS_QUADREG_DATA", raising=False)
    with pytest.raises(SystemExit):
        leaderboard.main(["--out", str(tmp_path), "--dry-run"])
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "leaderboard.py: error: Expected --data-dir (or $KERAS_QUADREG_DATA) for the train, "
        "evaluate, explain and masking stages. Received: --data-dir=None"
    )


def test_leaderboard_collate_names_what_a_run_lacks(leaderboard, tmp_path):
    run = tmp_path / "mnist" / "quadreg-s0"
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps({"attacks": {"pgd": {"accuracy": 0.5}}}))
    board = tmp_path / "board.json"
    argv = ["--out", str(tmp_path), "--stage", "collate", "--datasets", "mnist"]
    argv += ["--rows", "quadreg", "--board", str(board)]
    with pytest.raises(SystemExit) as exit_info:
        leaderboard.main(argv)
    assert exit_info.value.code == (
        f"leaderboard.py: {run} has a report.json but not config.json, timing.json, board.json, "
        "which this script's train and evaluate stages write; move the folder aside to redo "
        "the run, or leave out --rows quadreg."
    )
    for name in ("config.json", "timing.json", "board.json"):
        (run / name).write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        leaderboard.main(argv)
    assert exit_info.value.code == (
        f"leaderboard.py: {run / 'report.json'} has the attacks ['pgd'], not the board's "
        "['pgd:steps=40', 'autoattack']; move it aside to rerun the evaluate stage."
    )
    assert not board.exists()

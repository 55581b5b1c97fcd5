"""AutoAttack checks its components against the model's classes before any
attack runs, names the way out, reads a string as one component, and takes
lists from the command line (`components=apgd_ce+square`)."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg import cli
from keras_quadreg.attacks import apgd, base, square
from keras_quadreg.cli import train as train_lib
from tests.conftest import SHARED_DATA, small_cnn

X = np.random.default_rng(0).uniform(0.0, 1.0, (8, 6, 6, 1)).astype(np.float32)
LINF = kq.ops.threat_model(0.05, "inf", 0.0, 1.0)


def _classifier(classes):
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(classes)]
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _needs(fewest, targets=10):
    both = f"target_classes + 1 = {targets} for its targets"
    return {
        "apgd_t": f"'apgd_t' needs at least {fewest} (4 for its targeted DLR loss, {both})",
        "fab_t": f"'fab_t' needs at least {targets} ({both})",
    }


STANDARD = "components=['apgd_ce', 'apgd_t', 'fab_t', 'square'], target_classes=9"
CASES = {
    "3 classes": (
        3,
        {},
        "AutoAttack cannot run 'apgd_t' and 'fab_t' on a model with 3 classes: "
        f"{_needs(10)['apgd_t']}; {_needs(10)['fab_t']}. Leave them out, e.g. "
        "AutoAttack(components=['apgd_ce', 'square']), or pass target_classes=2 to run 'fab_t'. "
        f"Received: a model with 3 classes, {STANDARD}",
    ),
    "5 classes": (
        5,
        {},
        "AutoAttack cannot run 'apgd_t' and 'fab_t' on a model with 5 classes: "
        f"{_needs(10)['apgd_t']}; {_needs(10)['fab_t']}. Leave them out, e.g. "
        "AutoAttack(components=['apgd_ce', 'square']), or pass target_classes=4 to run 'apgd_t' "
        f"and 'fab_t'. Received: a model with 5 classes, {STANDARD}",
    ),
    "APGD-T alone, 3 classes": (
        3,
        {"components": "apgd_t", "target_classes": 2},
        "AutoAttack cannot run 'apgd_t' on a model with 3 classes: 'apgd_t' needs at least 4 "
        "(4 for its targeted DLR loss, target_classes + 1 = 3 for its targets). Leave it out, "
        "e.g. AutoAttack(components=['apgd_ce', 'fab_t', 'square']). "
        "Received: a model with 3 classes, components=['apgd_t'], target_classes=2",
    ),
    "rand, 2 classes": (
        2,
        {"version": "rand"},
        "AutoAttack cannot run 'apgd_dlr' on a model with 2 classes: 'apgd_dlr' needs at least 3 "
        "(3 for its DLR loss). Leave it out, e.g. AutoAttack(version='rand', "
        "components=['apgd_ce']). Received: a model with 2 classes, "
        "components=['apgd_ce', 'apgd_dlr'], target_classes=9",
    ),
}


@pytest.fixture
def no_attack(monkeypatch):
    """Makes running any attack fail the test: the classes are checked first."""

    def fail(*args, **kwargs):
        raise AssertionError("an attack ran before AutoAttack's classes were checked")

    for owner in (base.GraphAttack, apgd.RobustExamplesAttack, square.Square):
        monkeypatch.setattr(owner, "_generate", fail)


MODES = {
    "eager": lambda model: model,
    "graph": lambda model: tf.function(model),
    "xla": lambda model: tf.function(model, jit_compile=True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES)
def test_autoattack_names_its_limits_before_attacking(case, mode, no_attack):
    classes, options, message = CASES[case]
    model_fn = MODES[mode](_classifier(classes))
    y = np.arange(len(X)) % classes
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.attacks.AutoAttack(**options).generate(model_fn, X, y, LINF)


@pytest.mark.parametrize("epsilon", [0.05, 1.0], ids=["some robust", "APGD-CE breaks all"])
def test_evaluate_robustness_checks_autoattack_before_any_attack(epsilon, no_attack):
    classes, options, message = CASES["3 classes"]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.evaluate_robustness(
            _classifier(classes),
            (X, np.arange(len(X)) % classes),
            epsilon,
            attacks=["fgsm", kq.attacks.AutoAttack(**options)],
            verbose=0,
        )


def test_a_string_is_one_component():
    autoattack = kq.attacks.AutoAttack(components="square", square_queries=2)
    assert autoattack.components == ("square",)
    model_fn, _ = kq.attacks.logits_function(_classifier(3))
    autoattack.generate(model_fn, X, np.arange(len(X)) % 3, LINF)
    assert list(autoattack.details) == ["square"]


def test_fewer_target_classes_run_fab_t_on_three_classes():
    autoattack = kq.attacks.AutoAttack(
        components=["apgd_ce", "fab_t", "square"], target_classes=2, steps=2, square_queries=2
    )
    model_fn, _ = kq.attacks.logits_function(_classifier(3))
    autoattack.generate(model_fn, X, np.arange(len(X)) % 3, LINF)
    assert autoattack.details["fab_t"]["ran"] == (
        "kq.attacks.FABT, targeted at each of the 2 highest-scoring other classes"
    )
    assert autoattack.get_config()["target_classes"] == 2


def test_target_classes_is_checked_up_front():
    message = "Expected `target_classes` to be an integer >= 1. Received: target_classes=0"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.attacks.AutoAttack(target_classes=0)


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    inputs, outputs = small_cnn()
    model = kq.QuadRegModel(inputs, outputs)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(folder / "model.keras")
    (folder / "config.json").write_text(
        json.dumps({"dataset": "mnist", "epsilon": 0.3, "norm": "inf", "method": "standard"})
    )
    return folder


EVALUATE = ["--num-examples", "4", "--sweep", "--data-dir", str(SHARED_DATA), "--attacks"]
LIST_SPEC = "autoattack:components=apgd_ce+square,steps=1,square_queries=1"


def test_evaluate_takes_autoattack_components_as_a_list(run, capsys):
    cli.main(["evaluate", str(run), *EVALUATE, LIST_SPEC])
    capsys.readouterr()
    result = json.loads((run / "report.json").read_text())["attacks"]["autoattack"]
    assert result["config"]["components"] == ["apgd_ce", "square"]
    assert list(result["details"]) == ["apgd_ce", "square"]


TEN_TARGETS = (
    "AutoAttack cannot run 'apgd_t' and 'fab_t' on a model with 10 classes: "
    f"{_needs(11, 11)['apgd_t']}; {_needs(11, 11)['fab_t']}. Leave them out, e.g. "
    "AutoAttack(components=['apgd_ce', 'square']), or pass target_classes=9 to run 'apgd_t' "
    "and 'fab_t'. Received: a model with 10 classes, components=['apgd_ce', 'apgd_t', 'fab_t', "
    "'square'], target_classes=10"
)
EMPTY_ITEM = (
    "Expected a list as values joined by +, none empty, e.g. "
    "autoattack:components=apgd_ce+square. Received: 'components=apgd_ce+'"
)


@pytest.mark.parametrize(
    "spec, message",
    [("autoattack:target_classes=10", TEN_TARGETS), ("autoattack:components=apgd_ce+", EMPTY_ITEM)],
    ids=["too many targets", "empty item"],
)
def test_evaluate_refuses_an_autoattack_spec_before_attacking(spec, message, run, no_attack):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", str(run), *EVALUATE, "fgsm", f"{spec}@2"])
    assert exit_info.value.code == f"quadreg evaluate: {message}"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.keras"]


COMPARE = [
    "compare",
    "--data-dir",
    str(SHARED_DATA),
    "--limit",
    "64",
    "--val-limit",
    "0",
    "--epochs",
    "1",
    "--arch",
    "madry_cnn_small",
    "--verbose",
    "0",
    "--methods",
    "standard",
    "--no-interpretability",
    "--sweep",
    "--num-examples",
    "4",
    "--attacks",
]


@pytest.mark.parametrize(
    "spec, message",
    [("autoattack:target_classes=10", TEN_TARGETS), ("autoattack:components=apgd_ce+", EMPTY_ITEM)],
    ids=["too many targets", "empty item"],
)
def test_compare_refuses_an_autoattack_spec_before_training(spec, message, tmp_path, monkeypatch):
    def train(*args, **kwargs):
        raise AssertionError("quadreg compare trained before checking its attacks")

    monkeypatch.setattr(train_lib, "train", train)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*COMPARE, spec, "--out", str(tmp_path / "cmp")])
    assert exit_info.value.code == f"quadreg compare: {message}"
    assert not (tmp_path / "cmp").exists()


def test_compare_takes_autoattack_components_as_a_list(tmp_path, capsys):
    out = tmp_path / "cmp"
    cli.main([*COMPARE, LIST_SPEC, "--out", str(out)])
    capsys.readouterr()
    report = json.loads((out / "standard" / "report.json").read_text())
    assert report["attacks"]["autoattack"]["config"]["components"] == ["apgd_ce", "square"]
    assert list(report["attacks"]["autoattack"]["details"]) == ["apgd_ce", "square"]

import argparse
import functools
import gzip
import json
import re
import shutil

import numpy as np
import pytest

import keras_quadreg as kq
from keras_quadreg import cli
from tests.conftest import SHARED_DATA

TINY = [
    "--data-dir",
    str(SHARED_DATA),
    "--limit",
    "128",
    "--val-limit",
    "64",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--arch",
    "madry_cnn_small",
    "--verbose",
    "0",
]
TINY_EVAL = [
    "--num-examples",
    "32",
    "--attacks",
    "fgsm",
    "pgd:steps=3",
    "mim:steps=3@8",
    "--sweep",
    "0.5",
    "1",
]
TINY_SCORES = ["--score-examples", "16", "--cf-steps", "5", "--saliency", "vanilla", "gradcam"]


def _subparsers():
    root = cli.parser()
    action = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return root, action.choices


@pytest.mark.parametrize("command", [None, "train", "evaluate", "explain", "export", "compare"])
def test_help_documents_every_flag_with_its_default(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(([command] if command else []) + ["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: quadreg")
    if command:
        subparser = _subparsers()[1][command]
        formatter = subparser._get_formatter()
        for action in subparser._actions:
            if action.option_strings and action.dest != "help":
                text = formatter._expand_help(action)
                # Compared without whitespace: help text is wrapped, at hyphens too.
                assert text.count("(default:") == 1, text  # each default once
                assert "".join(text.split()) in "".join(out.split())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "quadreg"
    cli.main(["train", "--method", "quadreg", "--iterations", "2", "--out", str(out), *TINY])
    return out


def test_train_writes_the_run_folder(trained):
    files = {p.relative_to(trained).as_posix() for p in trained.rglob("*") if p.is_file()}
    assert {"config.json", "model.keras", "history.csv", "timing.json"} <= files
    # The last and best weights only, ranked by the validation loss.
    assert sorted(f for f in files if f.startswith("checkpoints/")) == [
        "checkpoints/best.json",
        "checkpoints/best.weights.h5",
        "checkpoints/last.weights.h5",
    ]
    assert json.loads((trained / "checkpoints" / "best.json").read_text())["monitor"] == "val_loss"
    assert any(f.startswith("logs/train/events.out.tfevents") for f in files)
    assert not (trained / "backup").exists()  # removed once training finished
    config = json.loads((trained / "config.json").read_text())
    assert config["regularizer"]["config"]["iterations"] == 2 and config["epsilon"] == 0.3
    assert config["versions"]["keras_quadreg"]
    history = (trained / "history.csv").read_text().splitlines()
    # The default objective trains on adversarial points: no penalty column.
    assert config["regularizer"]["config"]["objective"] == "adversarial"
    assert history[0].split(",")[:4] == ["epoch", "accuracy", "clean_loss", "loss"]
    assert "quadratic_adversarial" not in history[0]
    assert len(history) == 3
    timing = json.loads((trained / "timing.json").read_text())
    assert set(timing["epoch_seconds"]) == {"0", "1"} and timing["train_seconds"] > 0


def test_keep_checkpoints_all_keeps_every_epoch(tmp_path):
    cli.main(
        [
            "train",
            "--method",
            "standard",
            "--keep-checkpoints",
            "all",
            "--out",
            str(tmp_path / "run"),
            *TINY,
            "--val-limit",
            "0",
        ]
    )
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "best.json",
        "best.weights.h5",
        "epoch-001.weights.h5",
        "epoch-002.weights.h5",
        "last.weights.h5",
    ]
    # Without validation data, the training loss ranks the epochs.
    assert (
        json.loads((tmp_path / "run" / "checkpoints" / "best.json").read_text())["monitor"]
        == "loss"
    )


def test_train_refuses_to_overwrite_a_finished_run(trained):
    with pytest.raises(SystemExit, match="already holds a trained model; pass --overwrite"):
        cli.main(["train", "--out", str(trained), *TINY])


def test_an_interrupted_run_resumes_only_with_its_configuration(trained, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(trained / "config.json", run / "config.json")
    with pytest.raises(SystemExit, match="holds an interrupted run with another configuration"):
        cli.main(["train", "--method", "cure", "--out", str(run), *TINY])


@pytest.mark.parametrize(
    "method", ["standard", "gradient-norm", "cure", "pgd", "fgsm-rs", "n-fgsm", "trades"]
)
def test_every_method_trains_from_the_command_line(method, tmp_path):
    cli.main(
        [
            "train",
            "--method",
            method,
            "--attack-steps",
            "2",
            "--out",
            str(tmp_path / method),
            *TINY[:-6],
            "--epochs",
            "1",
            "--verbose",
            "0",
            "--arch",
            "madry_cnn_small",
        ]
    )
    assert (tmp_path / method / "model.keras").exists()


def test_evaluate_writes_the_report_and_figure(trained, capsys):
    cli.main(["evaluate", str(trained), "--data-dir", str(SHARED_DATA), *TINY_EVAL])
    out = capsys.readouterr().out
    assert (
        "## Robustness report" in out
        and "| pgd (3 steps, step 0.25, 1 restart, random start) |" in out
    )
    written = [
        "report.md",
        "report.json",
        "report-n8.json",
        "figures/robust_accuracy_vs_epsilon.png",
    ]
    assert f"quadreg: wrote {', '.join(str(trained / name) for name in written)}\n" in out
    report = json.loads((trained / "report.json").read_text())
    assert report["num_examples"] == 32 and set(report["attacks"]) == {"fgsm", "pgd"}
    assert report["attacks"]["pgd"]["config"]["steps"] == 3
    subset = json.loads((trained / "report-n8.json").read_text())
    assert subset["num_examples"] == 8 and list(subset["attacks"]) == ["mim"]
    markdown = (trained / "report.md").read_text()
    assert markdown.startswith("## Robustness report") and "On the first 8 examples:" in markdown
    assert (trained / "figures" / "robust_accuracy_vs_epsilon.png").stat().st_size > 1000


def test_each_evaluation_is_kept(trained, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "model.keras"):
        shutil.copy(trained / name, run / name)
    quick = ["--data-dir", str(SHARED_DATA), "--num-examples", "16", "--sweep"]
    cli.main(["evaluate", str(run), *quick, "--attacks", "fgsm", "pgd:steps=2@8"])
    cli.main(["evaluate", str(run), *quick, "--attacks", "fgsm"])
    assert sorted(p.name for p in (run / "reports" / "001").iterdir()) == [
        "report-n8.json",
        "report.json",
        "report.md",
    ]
    assert not (run / "report-n8.json").exists()  # an earlier subset is not taken as current
    markdown = (run / "report.md").read_text()
    assert markdown.startswith(
        "Current report: evaluation 2 of this run; the 1 earlier one is in reports/ "
        "(001 the oldest).\n\n## Robustness report"
    )
    cli.main(["evaluate", str(run), *quick, "--attacks", "fgsm"])
    assert (run / "reports" / "002" / "report.md").read_text() == markdown
    assert (
        (run / "report.md")
        .read_text()
        .startswith("Current report: evaluation 3 of this run; the 2 earlier ones")
    )


def test_explain_writes_figures_and_scores(trained, tmp_path, capsys):
    reference = tmp_path / "reference"
    cli.main(["train", "--method", "standard", "--seed", "1", "--out", str(reference), *TINY])
    cli.main(
        [
            "explain",
            str(trained),
            "--reference",
            str(reference),
            "--images",
            "3",
            "--data-dir",
            str(SHARED_DATA),
            *TINY_SCORES,
        ]
    )
    out = capsys.readouterr().out
    assert (
        "| quadreg |" in out
        and "- `deletion_auc`: lower is better" in out
        and "- A blank cell:" in out
    )
    assert (
        "quadreg explain: saliency maps (vanilla, gradcam) and counterfactuals of 3 test images\n"
        "quadreg explain: scoring the explanations on 16 test images (counterfactuals toward every "
        "other class, radius searched up to p=0.5, 5 steps per radius)\n"
    ) in out
    written = [
        "explanations.md",
        "explanations.json",
        "figures/explanations.png",
        "figures/counterfactuals.png",
        "figures/counterfactuals_vs_reference.png",
    ]
    assert f"quadreg: wrote {', '.join(str(trained / name) for name in written)}\n" in out
    scores = json.loads((trained / "explanations.json").read_text())
    explanations = [row["explanation"] for row in scores["rows"]]
    assert explanations == ["vanilla", "gradcam", "counterfactual (L2, p>=0.5, eps<=16)"]
    # This two-epoch model's probabilities stay near 0.1: few targets reach 0.5.
    counterfactual = scores["rows"][-1]
    success = counterfactual["counterfactual_success"]
    assert (counterfactual["counterfactual_transfer"] is None) == (success == 0)
    median = counterfactual["counterfactual_median_radius"]
    assert median is None if success <= 0.5 else 0 < median <= 16
    assert scores["counterfactual_epsilon"] == "search" and scores["counterfactual_steps"] == 5
    assert scores["num_examples"] == 16 and scores["reference"] == str(reference)
    for figure in ("explanations.png", "counterfactuals.png", "counterfactuals_vs_reference.png"):
        assert (trained / "figures" / figure).stat().st_size > 5000


def test_attacks_on_subsets_of_the_examples():
    from keras_quadreg.cli import evaluate

    assert evaluate.subsets(["fgsm", "spsa@100", "pgd:steps=40", "cw@100"], 500) == {
        500: ["fgsm", "pgd:steps=40"],
        100: ["spsa", "cw"],
    }
    with pytest.raises(
        ValueError,
        match=r"Expected at least one attack on all --num-examples examples \(without @N\). "
        r"Received: attacks=\['pgd@10'\]",
    ):
        evaluate.subsets(["pgd@10"], 500)
    with pytest.raises(
        ValueError,
        match=r"Expected an attack's @N between 1 and --num-examples \(500\). Received: spsa@600",
    ):
        evaluate.subsets(["pgd", "spsa@600"], 500)


def test_autoattack_versions_and_backends_by_spec():
    from keras_quadreg.cli import evaluate

    rand = evaluate.attack("autoattack:version=rand,steps=50")
    assert (rand.version, rand.components, rand.steps) == ("rand", ("apgd_ce", "apgd_dlr"), 50)
    assert evaluate.attack("autoattack").components == ("apgd_ce", "apgd_t", "fab_t", "square")


def test_export_writes_a_servable_version(trained):
    cli.main(["export", str(trained)])
    cli.main(["export", str(trained)])
    assert (trained / "export" / "1" / "saved_model.pb").exists()
    assert (trained / "export" / "2" / "saved_model.pb").exists()


def test_compare_trains_and_evaluates_every_method(tmp_path, capsys):
    out = tmp_path / "compare"
    args = [
        "compare",
        "--methods",
        "standard",
        "quadreg:iterations=2",
        "fgsm-rs",
        "--out",
        str(out),
        *TINY,
        *TINY_EVAL,
        *TINY_SCORES,
    ]
    cli.main(args)
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in results["rows"]] == ["standard", "quadreg:iterations=2", "fgsm-rs"]
    assert results["note"] == "All methods were trained in this invocation."
    markdown = (out / "results.md").read_text()
    assert (
        "| method | clean | fgsm | pgd | mim (n=8) | worst case | train time (s) | "
        "time / standard |" in markdown
    )
    assert "| standard |" in printed and (out / "quadreg-iterations=2" / "report.json").exists()
    assert (
        "| method | saliency on the object | deletion AUC | insertion AUC | counterfactual success "
        "| counterfactual transfer | counterfactual median radius |" in markdown
    )
    assert (out / "reference-standard" / "model.keras").exists()
    assert all(
        r["interpretability"]["vanilla"]["foreground_fraction"] is not None for r in results["rows"]
    )
    # A second invocation reuses the runs and says so.
    cli.main(args)
    assert "reused from earlier invocations" in (out / "results.md").read_text()


def test_compare_resumes_each_part_of_an_evaluation(tmp_path, capsys, monkeypatch):
    out = tmp_path / "compare"
    args = [
        "compare",
        "--methods",
        "standard",
        "--out",
        str(out),
        "--no-interpretability",
        *TINY,
        *TINY_EVAL,
    ]
    run = out / "standard"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    # Killed during the masking checks, after the report and the sweep were written.
    with monkeypatch.context() as patch:
        patch.setattr(kq, "check_gradient_masking", killed)
        with pytest.raises(KeyboardInterrupt):
            cli.main([*args, "--masking"])
    cheap = functools.partial(
        kq.check_gradient_masking,
        steps=2,
        restarts=1,
        spsa=kq.attacks.SPSA(steps=2, samples=8),
        spsa_examples=4,
        surrogate_epochs=1,
    )
    monkeypatch.setattr(kq, "check_gradient_masking", cheap)
    report = (run / "report.json").read_text()
    (run / "figures" / "robust_accuracy_vs_epsilon.png").unlink()
    capsys.readouterr()
    cli.main([*args, "--masking"])
    assert "quadreg compare: evaluating standard (sweep, masking)" in capsys.readouterr().out
    assert (run / "report.json").read_text() == report and not (run / "reports").exists()
    assert (run / "masking.json").exists() and (
        run / "figures" / "robust_accuracy_vs_epsilon.png"
    ).exists()
    cli.main([*args, "--masking"])
    assert "evaluating" not in capsys.readouterr().out


def test_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--dataset", "imagenet", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err
    with pytest.raises(
        SystemExit,
        match=r"quadreg train: Data directory not found.*Received: --data-dir=/nonexistent$",
    ):
        cli.main(["train", "--out", str(tmp_path / "y"), *TINY[2:], "--data-dir", "/nonexistent"])
    broken = tmp_path / "data" / "mnist"
    broken.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ):
        shutil.copy(SHARED_DATA / "mnist" / name, broken / name)
    with gzip.open(broken / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(np.zeros(16, np.uint8).tobytes())  # magic number 0
    with pytest.raises(SystemExit, match="quadreg train: Malformed IDX file"):
        cli.main(
            ["train", "--out", str(tmp_path / "z"), *TINY[2:], "--data-dir", str(tmp_path / "data")]
        )
    with pytest.raises(SystemExit, match="quadreg: no trained model in"):
        cli.main(["evaluate", str(tmp_path / "nothing")])
    with pytest.raises(SystemExit, match=r"Unknown method. Expected one of \['standard'"):
        cli.main(["compare", "--methods", "quadreg", "l2", "--out", str(tmp_path / "c"), *TINY])


def test_data_errors_name_the_flag_and_the_folder_looked_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "run", "--data-dir", "data"])
    assert str(exit_info.value) == (
        "quadreg evaluate: Data directory not found: expected --data-dir to be an existing folder "
        f"holding one folder of raw files per dataset; looked in {tmp_path / 'data'}. "
        "Received: --data-dir=data"
    )
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--out", "run", *TINY[2:], "--data-dir", "data"])
    message = str(exit_info.value)
    assert message.startswith(
        "quadreg train: Raw files of mnist (train split) not found in "
        f"'{tmp_path / 'data' / 'mnist'}'"
    )
    assert message.endswith(
        "where <data_dir> is the `data_dir` argument or the KERAS_QUADREG_DATA environment "
        "variable. On the command line, `data_dir` is the --data-dir flag."
    )


@pytest.mark.parametrize(
    "flags", [["--strategy", "mirrored"], ["--mixed-precision", "bfloat16"], ["--jit", "on"]]
)
def test_execution_flags(flags, tmp_path):
    out = tmp_path / "run"
    cli.main(
        [
            "train",
            "--method",
            "quadreg",
            "--out",
            str(out),
            *TINY[:-6],
            "--epochs",
            "1",
            "--verbose",
            "0",
            "--arch",
            "madry_cnn_small",
            *flags,
        ]
    )
    config = json.loads((out / "config.json").read_text())
    assert all(str(config[flag[2:].replace("-", "_")]) == value for flag, value in [flags])
    history = (out / "history.csv").read_text().splitlines()[1].split(",")
    assert all(np.isfinite(float(value)) for value in history[1:5])


def test_epsilon_ramp(tmp_path):
    out = tmp_path / "run"
    cli.main(
        [
            "train",
            "--method",
            "pgd",
            "--attack-steps",
            "2",
            "--ramp-epochs",
            "2",
            "--out",
            str(out),
            *TINY[:-6],
            "--epochs",
            "3",
            "--verbose",
            "0",
            "--arch",
            "madry_cnn_small",
        ]
    )
    rows = (out / "history.csv").read_text().splitlines()
    column = rows[0].split(",").index("epsilon")
    assert [float(row.split(",")[column]) for row in rows[1:]] == pytest.approx([0.15, 0.3, 0.3])
    # The model keeps the full radius.
    assert json.loads((out / "config.json").read_text())["regularizer"]["config"]["epsilon"] == 0.3


def test_cf_epsilon_is_search_or_a_radius():
    from keras_quadreg.cli import explain

    assert explain._cf_epsilon("search") == "search"
    assert explain._cf_epsilon("2.5") == 2.5
    with pytest.raises(argparse.ArgumentTypeError) as error:
        explain._cf_epsilon("grow")
    assert str(error.value) == "expected \"search\" or a radius, got 'grow'"


ADAPT = ["--method", "quadreg", "--adapt-iterations", "--adapt-probe", "32"]


def test_adapt_iterations_sets_k_each_epoch_by_the_distortion(tmp_path):
    import keras

    from keras_quadreg.callbacks import adaptive_iterations

    out = tmp_path / "run"
    cli.main(["train", *ADAPT, "--adapt-max-iterations", "4", "--out", str(out), *TINY])
    config = json.loads((out / "config.json").read_text())
    assert (config["adapt_iterations"], config["adapt_threshold"], config["adapt_probe"]) == (
        True,
        0.9,
        32,
    )
    assert (config["adapt_max_iterations"], config["adapt_increase"]) == (4, 2)
    rows = (out / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    values = [dict(zip(header, row.split(","), strict=True)) for row in rows[1:]]
    assert len(values) == 2
    previous = 1  # the authors' K before the first epoch
    for epoch in values:
        distortion = float(epoch["fw_distortion"])
        assert 0 < distortion <= 1
        expected = adaptive_iterations.next_iterations(
            previous, distortion, threshold=0.9, increase=2, max_iterations=4
        )
        assert int(epoch["iterations"]) == expected
        previous = expected
    # The saved model's regularizer has the last epoch's K.
    assert keras.models.load_model(out / "model.keras").regularizer.iterations == previous
    assert not (out / "backup").exists()  # the recorded K went with the backup


def test_an_adaptive_run_resumes_with_its_k(tmp_path, monkeypatch):
    import keras

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    flags = [*ADAPT, "--adapt-threshold", "1", *TINY, "--epochs", "3", "--val-limit", "0"]
    cli.main(["train", *flags, "--out", str(whole)])
    begin = kq.callbacks.AdaptiveIterations.on_epoch_begin

    def interrupted(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("interrupted")
        begin(self, epoch, logs)

    monkeypatch.setattr(kq.callbacks.AdaptiveIterations, "on_epoch_begin", interrupted)
    with pytest.raises(RuntimeError, match="interrupted"):
        cli.main(["train", *flags, "--out", str(resumed)])
    monkeypatch.undo()
    cli.main(["train", *flags, "--out", str(resumed)])
    history = [(run / "history.csv").read_text().splitlines() for run in (whole, resumed)]
    assert history[0] == history[1]
    column = history[0][0].split(",").index("iterations")
    # With r = 1 the distortion never exceeds the threshold: K = 3, 5, 7.
    assert [row.split(",")[column] for row in history[0][1:]] == ["3", "5", "7"]
    models = [keras.models.load_model(run / "model.keras") for run in (whole, resumed)]
    assert models[1].regularizer.iterations == 7
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--method", "pgd", "--adapt-iterations"],
            "Expected `adapt_iterations` with a method whose regularizer takes Frank-Wolfe "
            "iterations: quadreg. Received: method='pgd'",
        ),
        (
            ["--method", "quadreg", "--adapt-iterations", "--norm", "2"],
            "Expected `adapt_iterations` with norm 'inf': the distortion it measures is of "
            "l_inf Frank-Wolfe attacks. Received: norm=2",
        ),
    ],
)
def test_adapt_iterations_needs_frank_wolfe_on_an_linf_ball(flags, message, tmp_path):
    from keras_quadreg.cli import train

    args = cli.parser().parse_args(["train", *flags, "--out", str(tmp_path / "run")])
    with pytest.raises(ValueError, match=re.escape(message)):
        train.config_from_args(args)


def test_adapt_flags_are_bounded(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", *ADAPT, "--adapt-threshold", "1.5", "--out", "unused"])
    assert (
        "Expected --adapt-threshold to be a number in (0, 1]. Received: --adapt-threshold=1.5"
        in capsys.readouterr().err
    )


def test_the_counterfactual_flags_default_to_the_librarys_defaults():
    """`quadreg explain` spells its --cf-* defaults without importing
    TensorFlow (for a fast --help): they must stay kq.explain's."""
    from keras_quadreg.cli import explain as explain_cli

    library = kq.explain.robust_features.COUNTERFACTUAL_OPTIONS
    for name, default in explain_cli.COUNTERFACTUAL.items():
        assert default == library[name], name

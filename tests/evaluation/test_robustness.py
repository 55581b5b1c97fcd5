import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq


@pytest.fixture
def standard(mnist_standard_model, mnist_subset):
    """The normally trained MNIST CNN and the 512 real test images."""
    _, (x, y) = mnist_subset
    return keras.models.load_model(mnist_standard_model), x, y


def test_pgd_drives_a_standard_model_near_zero_and_the_report_recounts(standard):
    model, x, y = standard
    test_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)
    report = kq.evaluate_robustness(
        model,
        test_ds,
        epsilon=0.3,
        norm="inf",
        attacks=["fgsm", "pgd"],
        num_examples=256,
        seed=0,
        verbose=0,
    )
    assert report.num_examples == 256 and report.seed == 0 and report.from_logits
    assert report.threat_model == {"norm": "inf", "epsilon": 0.3, "clip_min": 0.0, "clip_max": 1.0}
    assert report.clean_accuracy > 0.9
    assert report.attacks["pgd"].accuracy <= 0.02

    # A direct recount: the attack run by hand, the model's own predictions.
    x, y = x[:256], y[:256]
    clean = np.argmax(model.predict(x, verbose=0), -1) == y
    assert report.clean_accuracy == clean.mean()
    model_fn, _ = kq.attacks.logits_function(model)
    threat = kq.ops.threat_model(0.3, "inf", 0.0, 1.0)
    worst = clean.copy()
    for name in ("fgsm", "pgd"):
        x_adv = kq.attacks.get(name).generate(model_fn, x, y, threat, seed=0, batch_size=128)
        correct = clean & (np.argmax(model.predict(x_adv, verbose=0), -1) == y)
        np.testing.assert_array_equal(report.attacks[name].correct, correct)
        assert report.attacks[name].accuracy == correct.mean()
        worst &= correct
    assert report.worst_case_accuracy == worst.mean()
    assert report.worst_case_accuracy <= min(r.accuracy for r in report.attacks.values())


def _report(clean, worst, attack="PGD"):
    correct = np.arange(100) < 100 * worst
    result = kq.evaluation.report.AttackResult(
        name="x",
        accuracy=worst,
        correct=correct,
        seconds=1.0,
        seed=0,
        config={"class_name": attack},
    )
    return kq.evaluation.RobustnessReport(
        threat_model={"norm": "inf", "epsilon": 0.3, "clip_min": 0.0, "clip_max": 1.0},
        num_examples=100,
        seed=0,
        from_logits=True,
        clean_accuracy=clean,
        clean_correct=np.arange(100) < 100 * clean,
        clean_seconds=0.1,
        attacks={"x": result},
        worst_case_accuracy=worst,
        worst_case_correct=correct,
        versions={},
    )


@pytest.mark.parametrize(
    "clean, worst, attack, expected",
    [
        (
            0.981,
            0.008,
            "PGD",
            "**Not robust**: accuracy falls from 98.1 % clean to 0.8 % under the worst case of x.",
        ),
        (0.98, 0.0, "AutoAttack", "**Not robust**"),
        (
            0.98,
            0.91,
            "PGD",
            "**Robust to these attacks**: 91.0 % of the examples keep their class under "
            "every one of x (98.0 % clean). A robust figure from these attacks alone is an "
            "upper bound: confirm it with AutoAttack",
        ),
        (
            0.98,
            0.91,
            "AutoAttack",
            "AutoAttack's standard set is included; `kq.check_gradient_masking`",
        ),
    ],
)
def test_report_states_its_verdict(clean, worst, attack, expected):
    report = _report(clean, worst, attack)
    assert expected in report.verdict()
    assert report.verdict() in report.to_markdown()


def test_report_names_each_attack_with_its_settings():
    configs = {
        "fgsm": kq.attacks.FGSM().get_config(),
        "pgd": kq.attacks.PGD(steps=40).get_config(),
        "spsa": kq.attacks.SPSA().get_config(),
        "autoattack": {"name": "autoattack", "components": ["apgd-ce", "apgd-t"], "steps": 100},
    }
    results = {
        name: kq.evaluation.report.AttackResult(
            name=name,
            accuracy=0.5,
            correct=np.arange(4) < 2,
            seconds=1.0,
            seed=0,
            config={"class_name": "X", **config},
        )
        for name, config in configs.items()
    }
    report = _report(0.98, 0.5)
    report.attacks = results
    assert [report.attack_label(name) for name in results] == [
        "fgsm",
        "pgd (40 steps, step 0.01875, 1 restart, random start)",
        "spsa (100 steps, 128 samples, learning rate 0.01, delta 0.01, early stop)",
        "autoattack (apgd-ce+apgd-t, 100 steps)",
    ]
    assert (
        "| pgd (40 steps, step 0.01875, 1 restart, random start) | 50.0 % | 1.00 |"
        in report.to_markdown()
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected the name of an attack of the report, one of ['fgsm', 'pgd', 'spsa', "
            "'autoattack']. Received: name='cw'"
        ),
    ):
        report.attack_label("cw")


def test_the_epsilon_figure_explains_itself():
    reports = []
    for epsilon, worst in [(0.15, 0.9), (0.3, 0.5)]:
        report = _report(0.98, worst)
        report.threat_model = {**report.threat_model, "epsilon": epsilon}
        reports.append(report)
    figure = kq.evaluation.plot_vs_epsilon(reports, training_epsilon=0.3)
    (ax,) = figure.axes
    assert ax.get_title() == "Robust accuracy against epsilon (100 examples)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["x", "worst case", "clean", "training epsilon (0.3)"]
    np.testing.assert_allclose(lines["training epsilon (0.3)"].get_xdata(), [0.3, 0.3])
    # The attack equals the worst case here: it must still be told apart.
    np.testing.assert_allclose(lines["x"].get_ydata(), lines["worst case"].get_ydata())
    assert lines["x"].get_linestyle() != lines["worst case"].get_linestyle()
    assert lines["x"].get_marker() != lines["worst case"].get_marker()
    assert lines["x"].get_zorder() > lines["worst case"].get_zorder()
    (ax,) = kq.evaluation.plot_vs_epsilon(reports, title="MNIST").axes
    assert ax.get_title() == "MNIST"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Expected `training_epsilon` to be a finite positive number. Received: "
            "training_epsilon=-0.3"
        ),
    ):
        kq.evaluation.plot_vs_epsilon(reports, training_epsilon=-0.3)
    with pytest.raises(
        ValueError, match=re.escape("Expected `title` to be a string or None. Received: title=3")
    ):
        kq.evaluation.plot_vs_epsilon(reports, title=3)


def test_report_formats(standard, tmp_path):
    model, x, y = standard
    pgd = kq.attacks.PGD(steps=5, name="pgd5")
    report = kq.evaluate_robustness(
        model, (x, y), epsilon=0.1, attacks=["fgsm", pgd], num_examples=64, verbose=0
    )
    markdown = report.to_markdown()
    assert (
        "Threat model: l_inf ball, epsilon = 0.1, inputs in [0, 1]. 64 examples, seed 0."
        in markdown
    )
    assert (
        "| pgd5 (5 steps, step 0.05, 1 restart, random start) | "
        f"{100 * report.attacks['pgd5'].accuracy:.1f} % |" in markdown
    )
    assert f"| **worst case** | **{100 * report.worst_case_accuracy:.1f} %** |" in markdown
    assert str(report) == markdown

    path = tmp_path / "report.json"
    text = report.to_json(path)
    data = json.loads(path.read_text())
    assert text == path.read_text()
    assert data["attacks"]["pgd5"]["config"] == {"class_name": "PGD", **pgd.get_config()}
    assert data["attacks"]["pgd5"]["seconds"] > 0
    assert set(data["versions"]) >= {"keras_quadreg", "tensorflow", "keras", "cleverhans"}
    assert sum(data["attacks"]["pgd5"]["correct"]) == round(64 * report.attacks["pgd5"].accuracy)
    loaded = kq.evaluation.RobustnessReport.from_json(path)
    assert loaded.to_dict() == report.to_dict()
    assert "correct" not in json.loads(report.to_json(per_example=False))["attacks"]["fgsm"]

    reports = report.sweep_epsilon([0.05, 0.1, 0.2])
    assert reports[1] is report
    assert [r.epsilon for r in reports] == [0.05, 0.1, 0.2]
    worst = [r.worst_case_accuracy for r in reports]
    assert worst == sorted(worst, reverse=True)
    figure = kq.evaluation.plot_vs_epsilon(reports, path=tmp_path / "curve.png")
    (ax,) = figure.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["fgsm", "pgd5", "worst case", "clean"]
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), worst)
    assert (tmp_path / "curve.png").stat().st_size > 0
    with pytest.raises(
        ValueError,
        match=re.escape("This report cannot re-run its evaluation (it was read from JSON)."),
    ):
        loaded.plot_vs_epsilon([0.1, 0.2])


def test_dataset_layouts_give_the_same_examples(standard):
    model, x, y = standard
    x, y = x[:40], y[:40]
    one_hot = np.eye(10, dtype=np.float32)[y]
    layouts = [
        (x, y),
        tf.data.Dataset.from_tensor_slices((x, y)),
        tf.data.Dataset.from_tensor_slices((x, one_hot)).batch(16),
        tf.data.Dataset.from_tensor_slices((x, y, np.ones(40))).batch(7),
    ]
    reports = [
        kq.evaluate_robustness(model, data, 0.1, attacks=["fgsm"], num_examples=40, verbose=0)
        for data in layouts
    ]
    # A callable has no input shape to tell batched from unbatched: the
    # scalar labels do.
    reports.append(
        kq.evaluate_robustness(
            lambda x: model(x),
            tf.data.Dataset.from_tensor_slices((x, y)),
            0.1,
            attacks=["fgsm"],
            from_logits=True,
            verbose=0,
        )
    )
    for report in reports[1:]:
        np.testing.assert_array_equal(
            report.attacks["fgsm"].correct, reports[0].attacks["fgsm"].correct
        )


def test_a_probability_model_is_attacked_through_its_log_probabilities(standard):
    model, x, y = standard
    probabilities = keras.Model(model.inputs, keras.layers.Softmax()(model.outputs[0]))
    report = kq.evaluate_robustness(
        probabilities, (x, y), 0.3, attacks=["pgd"], num_examples=64, verbose=0
    )
    assert report.from_logits is False
    assert report.clean_accuracy > 0.9 and report.attacks["pgd"].accuracy <= 0.05


def test_evaluate_robustness_runs_every_named_attack(standard):
    model, x, y = standard
    attacks = [
        "fgsm",
        kq.attacks.BIM(steps=3),
        kq.attacks.PGD(steps=3),
        kq.attacks.MIM(steps=3),
        kq.attacks.CarliniWagnerL2(max_iterations=5, binary_search_steps=1),
        kq.attacks.SPSA(steps=2, samples=8),
        kq.attacks.AutoAttack(steps=2, square_queries=5),
    ]
    report = kq.evaluate_robustness(model, (x, y), 0.3, attacks=attacks, num_examples=8, verbose=0)
    assert list(report.attacks) == ["fgsm", "bim", "pgd", "mim", "cw", "spsa", "autoattack"]
    assert list(report.attacks["autoattack"].details) == ["apgd_ce", "apgd_t", "fab_t", "square"]
    assert "autoattack components" in report.to_markdown()
    assert report.attacks["fgsm"].flags is None and report.attacks["autoattack"].flags == []
    assert "autoattack flags (the checks of the authors' code):\n\n- none" in report.to_markdown()


def test_autoattack_flags_reach_the_report_and_its_json(standard, tmp_path):
    model, x, y = standard
    probabilities = keras.Model(model.inputs, keras.layers.Softmax()(model.outputs[0]))
    attack = kq.attacks.AutoAttack(components=["apgd_ce"], steps=2)
    with pytest.warns(UserWarning, match="The model outputs probabilities"):
        report = kq.evaluate_robustness(
            probabilities, (x, y), 0.3, attacks=[attack], num_examples=8, verbose=0
        )
    flags = report.attacks["autoattack"].flags
    assert [f["check"] for f in flags] == ["probability_outputs"]
    assert f"- probability_outputs: {flags[0]['message']}" in report.to_markdown()
    report.to_json(tmp_path / "report.json")
    again = kq.evaluation.RobustnessReport.from_json(tmp_path / "report.json")
    assert again.attacks["autoattack"].flags == flags


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"data": (np.full((4, 28, 28, 1), np.nan), np.zeros(4))},
            "Expected `x` to contain only finite values. Received: 3136 NaN or Inf values",
        ),
        (
            {"data": (np.zeros((4, 28, 28, 1)), np.array([0, 1, 2, 10]))},
            "Expected class indices < the number of classes the model outputs, 10. Received: "
            "max(y)=10",
        ),
        (
            {"data": (np.full((4, 28, 28, 1), 255.0), np.zeros(4))},
            "Expected inputs in the threat model's box [clip_min, clip_max] = [0.0, 1.0]. "
            "Received: inputs in [255.0, 255.0]",
        ),
        (
            {"data": (np.zeros((4, 28, 28, 1)), np.zeros(3))},
            "Expected as many labels as inputs. Received: 4 inputs and 3 labels",
        ),
        (
            {"num_examples": 5},
            "Expected at least num_examples=5 examples in `data`. Received: 4 examples",
        ),
        (
            {
                "data": tf.data.Dataset.from_tensor_slices(
                    (np.zeros((4, 28, 28, 1)), np.zeros(4))
                ).repeat()
            },
            "Expected a finite dataset, or `num_examples`. Received: an infinite dataset and "
            "num_examples=None",
        ),
        (
            {"data": [1, 2, 3, 4]},
            "Expected `data` to be a tf.data.Dataset of (x, y) pairs or a tuple (x, y) of arrays. "
            "Received: data of type list",
        ),
        (
            {"attacks": ["pgd", kq.attacks.PGD(steps=3)]},
            "Expected attacks with distinct names (pass `name=` to tell them apart). "
            "Received: duplicate names ['pgd']",
        ),
        (
            {"attacks": [kq.attacks.PGD(name="clean")]},
            "Expected attack names other than ['clean', 'worst_case']. Received: name='clean'",
        ),
        (
            {"attacks": []},
            "Expected `attacks` to be a non-empty list of attacks. Received: attacks=[]",
        ),
        (
            {"epsilon": 0.0},
            "Expected `epsilon` to be a finite positive number. Received: epsilon=0.0",
        ),
        ({"norm": 1}, 'Expected `norm` to be "inf" (or np.inf) or 2. Received: norm=1'),
        ({"seed": -1}, "Expected `seed` to be an integer >= 0. Received: seed=-1"),
    ],
)
def test_bad_arguments_and_data_get_clear_errors(standard, kwargs, message):
    model, _, _ = standard
    arguments = {
        "data": (np.zeros((4, 28, 28, 1)), np.zeros(4)),
        "epsilon": 0.3,
        "attacks": ["fgsm"],
        "verbose": 0,
        **kwargs,
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        kq.evaluate_robustness(model, **arguments)


@pytest.mark.heavy
def test_the_issue_example_with_default_attacks(standard, tmp_path):
    model, x, y = standard
    test_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    report = kq.evaluate_robustness(
        model,
        test_ds,
        epsilon=0.3,
        norm="inf",
        attacks=["fgsm", "pgd", "mim", "cw", "spsa", "autoattack"],
        num_examples=128,
        seed=0,
        verbose=0,
    )
    print(report.to_markdown())
    report.to_json(tmp_path / "report.json")
    assert report.clean_accuracy > 0.9
    for name in ("pgd", "mim", "spsa", "autoattack"):
        assert report.attacks[name].accuracy <= 0.05, name
    assert report.worst_case_accuracy <= 0.02

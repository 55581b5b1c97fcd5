"""Keeps benchmarks/eval_cost.py running (tiny settings; the figures come
from running it in full)."""

import json

from tests.benchmarks._script import load


def test_eval_cost_script_reports_ratios_to_a_clean_pass(mnist_subset, tmp_path):
    eval_cost = load("eval_cost")
    output = tmp_path / "cost.json"
    result = eval_cost.main(
        [
            "--num-examples",
            "16",
            "--first-example",
            "4",
            "--train-examples",
            "256",
            "--epochs",
            "1",
            "--steps",
            "2",
            "--square-queries",
            "5",
            "--repeats",
            "2",
            "--output",
            str(output),
        ]
    )
    assert json.loads(output.read_text()) == json.loads(json.dumps(result))
    assert (result["first_example"], result["num_examples"]) == (4, 16)
    assert list(result["attacks"]) == ["pgd20", "autoattack"]
    for attack in result["attacks"].values():
        assert attack["ratio_to_clean_pass"] == attack["seconds"] / result["clean_pass_seconds"]
    assert list(result["attacks"]["autoattack"]["details"]) == [
        "apgd_ce",
        "apgd_t",
        "deepfool",
        "square",
    ]
    native = result["native"]
    assert list(native["components"]) == ["apgd_ce", "apgd_t", "fab_t", "square"]
    art = result["attacks"]["autoattack"]["details"]
    assert (
        native["components"]["apgd_ce"]["examples_attacked"] == art["apgd_ce"]["examples_attacked"]
    )
    for component, d in native["components"].items():
        art_component = "deepfool" if component == "fab_t" else component
        assert d["ratio_to_art"] == d["seconds"] / art[art_component]["seconds"]
    assert native["ratio_to_art"] == native["seconds"] / native["art_seconds_same_components"]

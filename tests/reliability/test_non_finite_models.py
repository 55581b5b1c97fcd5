"""A model with NaN or Inf weights is refused by evaluation, explanation and export."""

import json
import re

import keras
import numpy as np
import pytest

import keras_quadreg as kq
from keras_quadreg import cli
from tests.conftest import SHARED_DATA, small_cnn


def _diverged(bad=np.nan):
    """A small MNIST CNN whose second convolution's kernel holds one `bad` value
    (the first convolution stays finite: the error names the first bad variable)."""
    inputs, outputs = small_cnn()
    model = kq.QuadRegModel(inputs, outputs, name="diverged")
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    kernel = model.get_layer("madry_cnn_conv2").kernel
    values = kernel.numpy()
    values.flat[3] = bad
    kernel.assign(values)
    return model


MESSAGE = (
    "Expected `model` to have finite weights; its variable 'madry_cnn_conv2/kernel' holds NaN or "
    "Inf values (did training diverge?). Received: model='diverged'"
)
x = np.full((4, 28, 28, 1), 0.5, np.float32)
y = np.arange(4)

CALLS = {
    "evaluate_robustness": lambda m: kq.evaluate_robustness(
        m, (x, y), 0.1, attacks=["fgsm"], verbose=0
    ),
    "check_gradient_masking": lambda m: kq.check_gradient_masking(m, (x, y), 0.1, verbose=0),
    "explain": lambda m: kq.explain(m, x, methods=["vanilla"]),
    "counterfactuals": lambda m: kq.explain.counterfactuals(m, x, epsilon=1.0),
    "interpretability_scores": lambda m: kq.explain.interpretability_scores(
        m, (x, y), methods=["vanilla"]
    ),
    "compare": lambda m: kq.explain.compare({"diverged": m}, x, methods=["vanilla"]),
    "export_for_serving": lambda m: kq.export_for_serving(m, "unused-base-path"),
}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("call", CALLS)
def test_the_api_refuses_a_model_with_non_finite_weights(call, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"^{re.escape(MESSAGE)}$"):
        CALLS[call](_diverged(bad))
    assert not any(tmp_path.iterdir())


@pytest.fixture
def diverged_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _diverged().save(run / "model.keras")
    (run / "config.json").write_text(
        json.dumps({"dataset": "mnist", "epsilon": 0.3, "norm": "inf", "method": "standard"})
    )
    return run


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--num-examples", "8", "--attacks", "fgsm", "--sweep"],
        ["explain", "--images", "2", "--score-examples", "4", "--saliency", "vanilla"],
        ["export"],
    ],
    ids=["evaluate", "explain", "export"],
)
def test_the_cli_refuses_a_model_with_non_finite_weights(argv, diverged_run):
    data = [] if argv[0] == "export" else ["--data-dir", str(SHARED_DATA)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([argv[0], str(diverged_run), *argv[1:], *data])
    assert exit_info.value.code == f"quadreg {argv[0]}: {MESSAGE}"
    assert sorted(p.name for p in diverged_run.iterdir()) == ["config.json", "model.keras"]

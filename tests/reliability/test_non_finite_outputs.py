"""A model with finite weights but non-finite outputs is refused, on the
examples it would be evaluated, attacked, explained or served on, before any
attack, explanation or file."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg import cli
from keras_quadreg.attacks import apgd, base, square
from keras_quadreg.explain import methods as explain_methods
from tests.conftest import SHARED_DATA


class _DividesByPixel(keras.layers.Layer):
    """Divides score 1 by (first pixel - 0.5): Inf where that pixel is 0.5."""

    def call(self, scores, images):
        divisor = images[:, 0, 0, 0] - 0.5
        return tf.concat([scores[:, :1], scores[:, 1:2] / divisor[:, None], scores[:, 2:]], 1)


def _blows_up():
    """3 classes; each score is the sum of the pixels, score 1 Inf where the
    first pixel is 0.5."""
    inputs = keras.Input((8, 8, 1))
    scores = keras.layers.Dense(3, kernel_initializer="ones")(keras.layers.Flatten()(inputs))
    model = kq.QuadRegModel(inputs, _DividesByPixel()(scores, inputs), name="blows_up")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


X = np.full((8, 8, 8, 1), 0.25, np.float32)
X[[2, 5], 0, 0, 0] = 0.5  # sum 16.25
Y = np.arange(8) % 3


def _message(what, count, indices, row):
    return (
        "Expected the model to output finite values; its outputs on "
        f"{len(indices)} of {count} {what} hold NaN or Inf (at indices {indices}, in output "
        f"units [1]). Received: outputs[{indices[0]}]={row}"
    )


EXAMPLES = _message("examples", 8, [2, 5], [16.25, float("inf"), 16.25])
IMAGES = _message("images", 8, [2, 5], [16.25, float("inf"), 16.25])


@pytest.fixture
def no_work(monkeypatch):
    """Makes attacking or explaining fail the test: the check comes first."""

    def fail(*args, **kwargs):
        raise AssertionError("attacked or explained before the outputs were checked")

    for owner in (base.GraphAttack, apgd.RobustExamplesAttack, square.Square):
        monkeypatch.setattr(owner, "_generate", fail)
    monkeypatch.setattr(explain_methods, "compute", fail)


MODES = {
    "eager": lambda model: model,
    "graph": lambda model: tf.function(model),
    "xla": lambda model: tf.function(model, jit_compile=True),
}


@pytest.mark.parametrize("mode", MODES)
def test_evaluate_robustness_refuses_non_finite_outputs(mode, no_work):
    model = MODES[mode](_blows_up())
    with pytest.raises(ValueError, match=f"^{re.escape(EXAMPLES)}$"):
        kq.evaluate_robustness(
            model,
            (X, Y),
            0.1,
            attacks=["fgsm", kq.attacks.AutoAttack(components=["apgd_ce", "square"])],
            from_logits=True,
            verbose=0,
        )


@pytest.mark.parametrize("backend", ["native", "art"])
def test_autoattack_refuses_non_finite_outputs(backend, no_work):
    if backend == "art":
        pytest.importorskip("art")
    model_fn, _ = kq.attacks.logits_function(_blows_up())
    autoattack = kq.attacks.AutoAttack(components=["apgd_ce", "square"], backend=backend)
    with pytest.raises(ValueError, match=f"^{re.escape(EXAMPLES)}$"):
        autoattack.generate(model_fn, X, Y, kq.ops.threat_model(0.1, "inf", 0.0, 1.0))


def test_check_gradient_masking_refuses_non_finite_outputs(no_work):
    with pytest.raises(ValueError, match=f"^{re.escape(EXAMPLES)}$"):
        kq.check_gradient_masking(_blows_up(), (X, Y), 0.1, verbose=0)


def _working():
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs, name="working")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


EXPLAIN_CALLS = {
    "explain": lambda m: kq.explain(m, X, methods=["vanilla"]),
    "counterfactuals": lambda m: kq.explain.counterfactuals(m, X, epsilon=1.0),
    "interpretability_scores": lambda m: kq.explain.interpretability_scores(
        {"working": _working(), "blows_up": m}, (X, Y), methods=["vanilla"]
    ),
    "compare": lambda m: kq.explain.compare(
        {"working": _working(), "blows_up": m}, X, methods=["vanilla"]
    ),
}


@pytest.mark.parametrize("call", EXPLAIN_CALLS)
def test_explanations_refuse_non_finite_outputs(call, no_work):
    with pytest.raises(ValueError, match=f"^{re.escape(IMAGES)}$"):
        EXPLAIN_CALLS[call](_blows_up())


@pytest.mark.parametrize(
    "warmup, message",
    [
        (False, _message("mid-gray probe images", 1, [0], [32.0, float("inf"), 32.0])),
        (True, _message("warmup images", 1, [0], [32.0, float("inf"), 32.0])),
        (X, _message("warmup images", 8, [2, 5], [16.25, float("inf"), 16.25])),
    ],
    ids=["no warmup", "mid-gray warmup", "warmup batch"],
)
def test_export_refuses_non_finite_outputs(warmup, message, tmp_path):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kq.export_for_serving(_blows_up(), tmp_path / "served", warmup=warmup)
    assert not any(tmp_path.iterdir())


@pytest.fixture
def overflowing_run(tmp_path):
    """A run folder whose model's weights are finite (1e38) but whose logits
    overflow float32 on any image with a positive pixel."""
    run = tmp_path / "run"
    run.mkdir()
    inputs = keras.Input((28, 28, 1))
    dense = keras.layers.Dense(10, kernel_initializer=keras.initializers.Constant(1e38))
    model = kq.QuadRegModel(inputs, dense(keras.layers.Flatten()(inputs)), name="overflowing")
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(run / "model.keras")
    (run / "config.json").write_text(
        json.dumps({"dataset": "mnist", "epsilon": 0.3, "norm": "inf", "method": "standard"})
    )
    return run


@pytest.mark.parametrize(
    "argv, what, count",
    [
        (["evaluate", "--num-examples", "4", "--attacks", "fgsm", "--sweep"], "examples", 4),
        (
            ["explain", "--images", "2", "--score-examples", "4", "--saliency", "vanilla"],
            "images",
            2,
        ),
        (["export"], "warmup images", 1),
    ],
    ids=["evaluate", "explain", "export"],
)
def test_the_cli_refuses_non_finite_outputs(argv, what, count, overflowing_run):
    data = [] if argv[0] == "export" else ["--data-dir", str(SHARED_DATA)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([argv[0], str(overflowing_run), *argv[1:], *data])
    message = _message(what, count, list(range(count)), [float("inf")] * 10)
    message = message.replace("output units [1]", f"output units {list(range(10))}")
    assert exit_info.value.code == f"quadreg {argv[0]}: {message}"
    assert sorted(p.name for p in overflowing_run.iterdir()) == ["config.json", "model.keras"]

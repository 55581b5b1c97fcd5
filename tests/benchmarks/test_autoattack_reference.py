"""Keeps benchmarks/autoattack_reference.py running. The reference is a
clone of fra31/auto-attack named by the AUTOATTACK_REFERENCE environment
variable; PyTorch is the optional extra `reference`."""

import os
import pathlib

import keras
import numpy as np
import pytest

from tests.benchmarks._script import load
from tests.conftest import SHARED_DATA

REFERENCE = os.environ.get("AUTOATTACK_REFERENCE")


def _script():
    return load("autoattack_reference")


def test_without_the_reference_the_script_says_how_to_get_it(tmp_path):
    with pytest.raises(SystemExit) as raised:
        _script().main(["--model-path", "model.keras", "--reference", str(tmp_path)])
    message = str(raised.value)
    assert message.startswith(f"No reference implementation at --reference={tmp_path}.")
    assert "git clone https://github.com/fra31/auto-attack" in message
    assert "pip install 'keras-quadreg[reference]'" in message


def test_the_converted_model_computes_the_keras_models_outputs():
    torch = pytest.importorskip("torch")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((9, 9, 2))
    h = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    h = keras.layers.Conv2D(3, 4, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.ZeroPadding2D(1)(h)
    h = keras.layers.Conv2D(4, 3, use_bias=False)(h)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.5)(h)
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Dense(7, "relu")(h))
    model = keras.Model(inputs, outputs)
    # Moving statistics away from their initial values.
    batch_norm = model.layers[5]
    batch_norm.moving_mean.assign(np.arange(4, dtype=np.float32))
    batch_norm.moving_variance.assign(np.arange(1, 5, dtype=np.float32))
    x = np.random.default_rng(0).uniform(size=(6, 9, 9, 2)).astype(np.float32)
    module = _script().to_torch(model, x.shape[1:])
    with torch.no_grad():
        theirs = module(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(theirs, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_unknown_layers_are_rejected():
    pytest.importorskip("torch")
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.LayerNormalization()])
    with pytest.raises(ValueError, match="Received: a layer of type LayerNormalization"):
        _script().to_torch(model, (4, 4, 1))


@pytest.mark.heavy
@pytest.mark.skipif(
    REFERENCE is None, reason="set AUTOATTACK_REFERENCE to a clone of fra31/auto-attack"
)
def test_cross_check_on_a_small_model(mnist_standard_model, tmp_path, capsys):
    pytest.importorskip("torch")
    arguments = [
        "--reference",
        REFERENCE,
        "--model-path",
        str(mnist_standard_model),
        "--data-dir",
        str(SHARED_DATA),
        "--num-examples",
        "24",
        "--epsilon",
        "0.1",
        "--steps",
        "10",
        "--square-queries",
        "50",
        "--chunk",
        "12",
        "--out",
        str(tmp_path),
    ]
    merged = _script().main(arguments)
    printed = capsys.readouterr().out
    assert sorted(p.name for p in pathlib.Path(tmp_path).iterdir()) == [
        "chunk_000000.json",
        "chunk_000012.json",
    ]
    # The same model and images: the same clean predictions.
    assert merged["reference"]["clean"] == merged["native"]["clean"]
    for side in ("reference", "native"):
        assert list(merged[side]["broken"]) == ["apgd_ce", "apgd_t", "fab_t", "square"]
        # A normally trained model at 0.1: APGD-CE breaks most examples.
        assert len(merged[side]["broken"]["apgd_ce"]) >= 12
    assert "test images broken by the reference only" in printed
    # Chunks on disk are not run again.
    again = _script().main(arguments)
    assert again == merged

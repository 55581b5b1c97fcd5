"""Keeps benchmarks/fast_adversarial_models.py importing mnist_net state dicts
exactly; PyTorch is the optional extra `reference`."""

import json

import keras
import numpy as np
import pytest

from keras_quadreg import cli
from tests.benchmarks._script import load
from tests.conftest import SHARED_DATA


def _script():
    return load("fast_adversarial_models")


def test_the_imported_model_computes_the_pytorch_networks_logits(tmp_path):
    torch = pytest.importorskip("torch")
    script = _script()
    torch.manual_seed(0)
    net = script.mnist_net(torch)
    torch.save(net.state_dict(), tmp_path / "net.pth")
    script.main([str(tmp_path / "net.pth"), "--out", str(tmp_path / "run")])
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    x = np.random.default_rng(1).uniform(size=(5, 28, 28, 1)).astype(np.float32)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs, rtol=1e-4, atol=1e-5)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config == {
        "dataset": "mnist",
        "epsilon": 0.3,
        "norm": "inf",
        "arch": "wong_cnn",
        "imported_from": "net.pth",
    }


def test_the_folder_is_a_run_quadreg_evaluate_takes(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    script = _script()
    torch.save(script.mnist_net(torch).state_dict(), tmp_path / "net.pth")
    script.main([str(tmp_path / "net.pth"), "--out", str(tmp_path / "run")])
    monkeypatch.chdir(tmp_path)
    cli.main(
        ["evaluate", "run", "--attacks", "fgsm", "--num-examples", "8", "--sweep"]
        + ["--data-dir", str(SHARED_DATA)]
    )
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["threat_model"]["epsilon"] == 0.3 and report["num_examples"] == 8


def test_another_networks_state_dict_is_refused():
    state = {"0.weight": np.zeros((16, 1, 4, 4)), "0.bias": np.zeros(16)}
    with pytest.raises(SystemExit) as raised:
        _script().to_keras(state)
    assert str(raised.value) == (
        "Expected the state dict of fast_adversarial's mnist_net, with the keys ['0.bias', "
        "'0.weight', '2.bias', '2.weight', '5.bias', '5.weight', '7.bias', '7.weight']. "
        "Received: keys=['0.bias', '0.weight']"
    )

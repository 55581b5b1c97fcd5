"""Keeps benchmarks/fast_adversarial_models.py importing mnist_net state dicts
exactly; PyTorch is the optional extra `reference`."""

import keras
import numpy as np
import pytest

from tests.benchmarks._script import load


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


def test_another_networks_state_dict_is_refused():
    state = {"0.weight": np.zeros((16, 1, 4, 4)), "0.bias": np.zeros(16)}
    with pytest.raises(SystemExit) as raised:
        _script().to_keras(state)
    assert str(raised.value) == (
        "Expected the state dict of fast_adversarial's mnist_net, with the keys ['0.bias', "
        "'0.weight', '2.bias', '2.weight', '5.bias', '5.weight', '7.bias', '7.weight']. "
        "Received: keys=['0.bias', '0.weight']"
    )

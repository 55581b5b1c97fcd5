"""Keeps benchmarks/fast_adversarial_train.py running the authors' MNIST
script as written: their flags, the raw MNIST images as torchvision would
give them, `.cuda()` a no-op, and nothing left patched afterwards."""

import sys

import numpy as np
import pytest

from keras_quadreg.data import idx
from tests.benchmarks._script import load
from tests.conftest import SHARED_DATA

#: A stand-in for their train_mnist.py that uses what theirs uses of CUDA and
#: torchvision, and saves what it saw.
TRAIN_MNIST = """
import argparse

import torch
import torchvision
from torchvision import datasets, transforms

from mnist_net import mnist_net

parser = argparse.ArgumentParser()
parser.add_argument("--fname")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
data = datasets.MNIST("../mnist-data", train=True, download=True, transform=transforms.ToTensor())
loader = torch.utils.data.DataLoader(data, batch_size=100, shuffle=False)
X, y = next(iter(loader))
model = mnist_net().cuda()
net = isinstance(model, torch.nn.Linear)
torch.save({"x": X.cuda(), "y": y, "n": len(data), "seed": args.seed, "net": net}, args.fname)
"""


def _clone(tmp_path):
    (tmp_path / "clone" / "MNIST").mkdir(parents=True)
    (tmp_path / "clone" / "MNIST" / "train_mnist.py").write_text(TRAIN_MNIST)
    (tmp_path / "clone" / "MNIST" / "mnist_net.py").write_text(
        "import torch\n\ndef mnist_net():\n    return torch.nn.Linear(2, 2)\n"
    )
    return tmp_path / "clone"


def test_their_script_runs_on_the_raw_images_without_cuda(tmp_path):
    torch = pytest.importorskip("torch")
    cuda = torch.Tensor.cuda
    script = load("fast_adversarial_train")
    fname = tmp_path / "out" / "fgsm.pth"
    script.main(
        [str(_clone(tmp_path)), "--fname", str(fname), "--data-dir", str(SHARED_DATA)]
        + ["--", "--seed", "3"]
    )
    saw = torch.load(fname, weights_only=True)
    raw = SHARED_DATA / "mnist"
    images = idx.read_images(raw / "train-images-idx3-ubyte.gz", limit=100)
    labels = idx.read_labels(raw / "train-labels-idx1-ubyte.gz", limit=100)
    assert saw["x"].dtype == torch.float32 and tuple(saw["x"].shape) == (100, 1, 28, 28)
    np.testing.assert_array_equal(saw["x"].numpy()[:, 0], images.astype(np.float32) / 255.0)
    assert saw["y"].dtype == torch.int64
    np.testing.assert_array_equal(saw["y"].numpy(), labels)
    assert (saw["n"], saw["seed"], saw["net"]) == (60000, 3, True)
    assert torch.Tensor.cuda is cuda and "torchvision.datasets" not in sys.modules


def test_a_folder_without_their_script_is_refused(tmp_path):
    pytest.importorskip("torch")
    with pytest.raises(SystemExit) as raised:
        load("fast_adversarial_train").run(tmp_path, None, tmp_path / "x.pth")
    assert str(raised.value) == (
        "Expected a clone of locuslab/fast_adversarial holding MNIST/train_mnist.py. "
        f"Received: clone={tmp_path}"
    )

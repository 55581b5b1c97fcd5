"""Imports the published MNIST models of fast adversarial training into Keras.

Wong, Rice & Kolter (2020, "Fast is better than free", locuslab/fast_adversarial)
publish their MNIST models (FGSM with a random start, and PGD adversarial
training as Madry et al.) as PyTorch state dicts of their `mnist_net`. This
script loads such a file into `kq.architectures.wong_cnn`, checks that the
Keras model computes the PyTorch network's logits on random images, and
writes a run folder: `model.keras` with a `config.json` naming its threat
model (MNIST, l_inf epsilon 0.3). `quadreg evaluate` takes the folder and
`benchmarks/autoattack_reference.py` the model: a published model is then
evaluated exactly as ours are. The files are not part of this repository;
PyTorch is the optional extra `reference` (`pip install
'keras-quadreg[reference]'`).

    python benchmarks/fast_adversarial_models.py fgsm.pth --out wong_fgsm/
    quadreg evaluate wong_fgsm --attacks autoattack --num-examples 1000
"""

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras_quadreg as kq  # noqa: E402

#: The run configuration `quadreg evaluate` reads: the published models' threat model.
CONFIG = {"dataset": "mnist", "epsilon": 0.3, "norm": "inf", "arch": "wong_cnn"}

#: The state-dict keys of `mnist_net`'s layers (an `nn.Sequential`: conv, ReLU,
#: conv, ReLU, Flatten, Linear, ReLU, Linear) by the Keras layer they fill.
LAYERS = {"conv1": "0", "conv2": "2", "dense": "5", "logits": "7"}


def mnist_net(torch):
    """Their network in PyTorch, to check the conversion against."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


def to_keras(state):
    """A `wong_cnn` Keras model holding the weights of an `mnist_net` state dict.

    Args:
        state: Mapping from the state dict's keys to NumPy arrays.

    Returns:
        The `keras.Model`, compiled with the logits' cross-entropy.
    """
    expected = {f"{index}.{kind}" for index in LAYERS.values() for kind in ("weight", "bias")}
    if set(state) != expected:
        raise SystemExit(
            f"Expected the state dict of fast_adversarial's mnist_net, with the keys "
            f"{sorted(expected)}. Received: keys={sorted(state)}"
        )
    model = keras.Model(*kq.architectures.wong_cnn())
    weights = {}
    for name, index in LAYERS.items():
        kernel, bias = state[f"{index}.weight"], state[f"{index}.bias"]
        if kernel.ndim == 4:  # (out, in, height, width) -> (height, width, in, out)
            kernel = kernel.transpose(2, 3, 1, 0)
        elif name == "dense":  # PyTorch flattens (channels, height, width), Keras the reverse
            kernel = kernel.reshape(100, 32, 7, 7).transpose(2, 3, 1, 0).reshape(-1, 100)
        else:
            kernel = kernel.T
        weights[name] = [kernel, bias]
    for name, values in weights.items():
        model.get_layer(f"wong_cnn_{name}").set_weights(values)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("state_dict", type=pathlib.Path, help="a published .pth file")
    parser.add_argument(
        "--out", type=pathlib.Path, required=True, help="run folder for model.keras"
    )
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        raise SystemExit(
            "Reading a .pth file needs PyTorch: pip install 'keras-quadreg[reference]' (a CPU "
            "build is enough)."
        ) from None
    if not args.state_dict.is_file():
        raise SystemExit(f"Expected a .pth file. Received: state_dict={args.state_dict}")
    state = torch.load(args.state_dict, map_location="cpu", weights_only=True)
    model = to_keras({key: value.numpy() for key, value in state.items()})
    net = mnist_net(torch)
    net.load_state_dict(state)
    x = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype(np.float32)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    gap = float(np.abs(theirs - model.predict(x, verbose=0)).max())
    if gap > 1e-4:
        raise SystemExit(
            f"The Keras model's logits differ from the PyTorch network's by {gap:.2e} "
            "(expected at most 1e-4); nothing was saved."
        )
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model.keras")
    config = {**CONFIG, "imported_from": args.state_dict.name}
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"{args.out / 'model.keras'}: logits within {gap:.1e} of the PyTorch network's")


if __name__ == "__main__":
    main()

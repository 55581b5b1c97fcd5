"""Runs the authors' own MNIST training of fast adversarial training on a CPU.

Wong, Rice & Kolter (2020, "Fast is better than free") train their MNIST
models with `MNIST/train_mnist.py` of locuslab/fast_adversarial, written for a
CUDA GPU and torchvision. This script runs that file unmodified from a clone
of their repository on a machine with neither: every `.cuda()` leaves its
tensor or module where it is, and torchvision's `datasets.MNIST` with
`transforms.ToTensor()` is replaced by the same images (the raw training
files in file order, scaled by 1/255 to float32, `(N, 1, 28, 28)`) read with
`kq.data.load_arrays`. Their flags pass through (`--seed`, `--epochs`, ...),
so FGSM-RS at their recipe can be reproduced seed by seed and compared with
`quadreg train --recipe wong2020_mnist` (the data from `$KERAS_QUADREG_DATA`
or `--data-dir`):

    python benchmarks/fast_adversarial_train.py CLONE --fname OUT/fgsm.pth -- --seed 1
    python benchmarks/fast_adversarial_models.py OUT/fgsm.pth --out OUT/run
    quadreg evaluate OUT/run --attacks pgd:steps=40 autoattack --num-examples 1000 --data-dir DATA

PyTorch is the optional extra `reference` (`pip install
'keras-quadreg[reference]'`); torchvision is not needed.
"""

import argparse
import os
import pathlib
import runpy
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras_quadreg as kq  # noqa: E402

#: Their training script, relative to the clone.
SCRIPT = pathlib.Path("MNIST") / "train_mnist.py"


def mnist_torchvision(torch, data_dir):
    """A `torchvision` module with what their script uses, `datasets.MNIST`
    and `transforms.ToTensor`, serving the raw MNIST files of `data_dir`."""

    class ToTensor:
        """Marks the one transform the stand-in implements: uint8 -> [0, 1]."""

    def mnist(root, train=True, download=False, transform=None):
        del root, download  # the raw files are read from `data_dir`, never downloaded
        if not isinstance(transform, ToTensor):
            raise ValueError(
                f"Expected transform=transforms.ToTensor(). Received: transform={transform!r}"
            )
        images, labels = kq.data.load_arrays(
            "mnist", "train" if train else "test", data_dir=data_dir
        )
        images = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
        return torch.utils.data.TensorDataset(
            torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
        )

    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = types.SimpleNamespace(MNIST=mnist)
    torchvision.transforms = types.SimpleNamespace(ToTensor=ToTensor)
    return torchvision


def run(clone, data_dir, fname, script_args=()):
    """Runs `clone/MNIST/train_mnist.py` on the CPU with `--fname fname` and
    `script_args`; the state dict it saves is at `fname`."""
    try:
        import torch
    except ImportError:
        raise SystemExit(
            "Their script needs PyTorch: pip install 'keras-quadreg[reference]' (a CPU build "
            "is enough)."
        ) from None
    script = pathlib.Path(clone) / SCRIPT
    if not script.is_file():
        raise SystemExit(
            f"Expected a clone of locuslab/fast_adversarial holding {SCRIPT}. "
            f"Received: clone={clone}"
        )
    torchvision = mnist_torchvision(torch, data_dir)
    fakes = {
        "torchvision": torchvision,
        "torchvision.datasets": torchvision.datasets,
        "torchvision.transforms": torchvision.transforms,
    }
    saved_modules = {name: sys.modules.get(name) for name in fakes}
    saved_cuda = torch.Tensor.cuda, torch.nn.Module.cuda
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    sys.modules.update(fakes)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    sys.path.insert(0, str(script.parent))  # their `from mnist_net import mnist_net`
    sys.argv = [str(script), "--fname", str(fname), *script_args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved_cuda
        sys.path[:], sys.argv = saved_path, saved_argv
        for name, module in saved_modules.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s CLONE --fname PTH [--data-dir DIR] [-- THEIR_FLAGS ...]",
    )
    parser.add_argument("clone", type=pathlib.Path, help="a clone of locuslab/fast_adversarial")
    parser.add_argument("--fname", type=pathlib.Path, required=True, help="the .pth to write")
    parser.add_argument(
        "--data-dir", default=None, help="raw dataset files (default: $KERAS_QUADREG_DATA)"
    )
    # What follows `--` is their script's (argparse would read `--seed` as ours).
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.script_args = argv[split + 1 :]
    args.fname.parent.mkdir(parents=True, exist_ok=True)
    run(args.clone, args.data_dir, args.fname, args.script_args)
    print(f"{args.fname}: written by {args.clone / SCRIPT}")


if __name__ == "__main__":
    main()

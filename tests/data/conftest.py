"""Fixtures of the data tests: small raw files in the official formats, mocked TFDS."""

import contextlib
import pathlib

import numpy as np
import pytest
import scipy.io

from keras_quadreg.data import catalog, cifar, tfds_source

# Examples per synthetic file: CIFAR-10 train has five batch files.
CIFAR10_PER_BATCH = {"train": 4, "test": 6}
SVHN_SIZES = {"train": 9, "test": 5}


def write_cifar10(root, seed=0):
    """Writes small CIFAR-10 batch files in `root/cifar10/`; returns the arrays per split."""
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(root) / "cifar10"
    folder.mkdir(parents=True)
    arrays = {}
    for split, per_batch in CIFAR10_PER_BATCH.items():
        names = catalog.info("cifar10").raw_files[split]
        images = rng.integers(0, 256, (per_batch * len(names), 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch * len(names))
        for i, name in enumerate(names):
            part = slice(i * per_batch, (i + 1) * per_batch)
            cifar.write_batch(folder / name, images[part], labels[part])
        arrays[split] = (images, labels)
    return arrays


def write_svhn(root, seed=0):
    """Writes small SVHN `.mat` files in `root/svhn_cropped/`; returns the arrays (labels 0-9)."""
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(root) / "svhn_cropped"
    folder.mkdir(parents=True)
    arrays = {}
    for split, size in SVHN_SIZES.items():
        images = rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8)
        digits = np.arange(size) % 10  # every digit, 0 included (stored as 10)
        scipy.io.savemat(
            folder / f"{split}_32x32.mat",
            {
                "X": images.transpose(1, 2, 3, 0),
                "y": np.where(digits == 0, 10, digits)[:, None].astype(np.uint8),
            },
        )
        arrays[split] = (images, digits)
    return arrays


@pytest.fixture
def no_data_env(monkeypatch):
    """No `KERAS_QUADREG_DATA`, so that only explicit arguments locate raw files."""
    monkeypatch.delenv(catalog.DATA_DIR_ENV, raising=False)


@pytest.fixture
def mock_tfds(monkeypatch, no_data_env):
    """Returns `mock(num_examples, **kwargs)`: TFDS serving random data, the network "up"."""
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds_source, "reachable", lambda url, timeout: True)
    with contextlib.ExitStack() as stack:
        yield lambda num_examples, **kwargs: stack.enter_context(
            tfds.testing.mock_data(num_examples=num_examples, **kwargs)
        )

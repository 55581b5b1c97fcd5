"""The offline source: the original dataset files in `<data_dir>/<name>/`.

Layouts (the file names of the official downloads):

- `mnist/`, `fashion_mnist/`: `train-images-idx3-ubyte.gz`,
  `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
  `t10k-labels-idx1-ubyte.gz` (gzip, or decompressed without `.gz`).
- `cifar10/`: `data_batch_1.bin` ... `data_batch_5.bin` and `test_batch.bin`,
  directly or in the `cifar-10-batches-bin/` folder the archive extracts
  to, or the archive `cifar-10-binary.tar.gz` itself.
- `svhn_cropped/`: `train_32x32.mat`, `test_32x32.mat`, `extra_32x32.mat`.
"""

import pathlib

import numpy as np

from keras_quadreg.data import catalog, cifar, idx, svhn

CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"


def instructions(info, split):
    """How to provide the raw files of `info.name` (for `split`), as one sentence."""
    # The usual splits together, so that providing them once is enough.
    names = info.raw_files["train"] + info.raw_files["test"] + info.raw_files[split]
    files = ", ".join(dict.fromkeys(names))
    extra = (
        f" (extracted, or the archive {CIFAR10_ARCHIVE} itself)" if info.name == "cifar10" else ""
    )
    return (
        f"put the original files {files}{extra}, from {info.download_url}, in "
        f"<data_dir>/{info.name}/ where <data_dir> is the `data_dir` argument or the "
        f"{catalog.DATA_DIR_ENV} environment variable"
    )


def _missing(info, split, folder, paths):
    return FileNotFoundError(
        f"Raw files of {info.name} ({split} split) not found in {str(folder)!r}: "
        f"missing {', '.join(repr(p.name) for p in paths)}. To load {info.name} "
        f"offline, {instructions(info, split)}."
    )


def _read_idx(info, split, folder, limit):
    paths, missing = [], []
    for name in info.raw_files[split]:
        compressed = folder / name
        plain = compressed.with_suffix("")
        paths.append(compressed if compressed.is_file() else plain)
        if not paths[-1].is_file():
            missing.append(compressed)
    if missing:
        raise _missing(info, split, folder, missing)
    return idx.read_images(paths[0], limit)[..., None], idx.read_labels(paths[1], limit)


def _read_cifar10(info, split, folder, limit):
    names = info.raw_files[split]
    for candidate in (folder, folder / cifar.ARCHIVE_FOLDER):
        if all((candidate / name).is_file() for name in names):
            return cifar.read_batches([candidate / name for name in names], limit)
    if (folder / CIFAR10_ARCHIVE).is_file():
        return cifar.read_archive(folder / CIFAR10_ARCHIVE, names, limit)
    raise _missing(info, split, folder, [folder / n for n in names if not (folder / n).is_file()])


def _read_svhn(info, split, folder, limit):
    path = folder / info.raw_files[split][0]
    if not path.is_file():
        raise _missing(info, split, folder, [path])
    return svhn.read(path, limit)


_READERS = {
    "mnist": _read_idx,
    "fashion_mnist": _read_idx,
    "cifar10": _read_cifar10,
    "svhn_cropped": _read_svhn,
}


def _check(info, split, folder, images, labels, limit):
    """Raises a `ValueError` unless the arrays are the expected split."""
    where = f"{info.name} raw files ({split} split) in {str(folder)!r}"
    if images.shape[1:] != info.image_shape:
        raise ValueError(
            f"Expected images of shape {info.image_shape} in the {where}. "
            f"Received: shape={images.shape[1:]}"
        )
    size = info.splits[split]
    expected = size if limit is None else min(limit, size)
    if len(images) != expected or len(labels) != expected:
        raise ValueError(
            f"Expected {expected} images and labels in the {where} (the split has "
            f"{size}). Received: {len(images)} images, {len(labels)} labels"
        )
    if labels.size and labels.max() >= info.num_classes:
        first = int(np.argmax(labels >= info.num_classes))
        raise ValueError(
            f"Expected labels in [0, {info.num_classes - 1}] in the {where}. "
            f"Received: label={int(labels[first])} at index {first}"
        )


def read(info, split, root, limit=None):
    """Reads and checks one split of a dataset from its raw files.

    Example:

    ```python
    images, labels = kq.data.raw.read(kq.data.info("mnist"), "test", "/data")
    ```

    Args:
        info: A `kq.data.DatasetInfo`.
        split: One of `info.splits`.
        root: The data directory holding the `<info.name>/` folder.
        limit: Read at most this many examples (the first ones), or None.

    Returns:
        `(images, labels)`: uint8 array `(n, *info.image_shape)` and int64
        array `(n,)`.
    """
    folder = pathlib.Path(root) / info.name
    images, labels = _READERS[info.name](info, split, folder, limit)
    _check(info, split, folder, images, labels, limit)
    return images, labels.astype(np.int64)

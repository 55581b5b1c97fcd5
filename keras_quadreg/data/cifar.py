"""Reader for the binary version of CIFAR-10 (`cifar-10-binary.tar.gz`).

Each batch file (`data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`)
is a sequence of 3073-byte records: one label byte (0-9), then the 32x32
image as 1024 red, 1024 green and 1024 blue bytes, rows first. The format has
no header, so a file is malformed when its size is not a whole number of
records (a truncated copy) or when it ends early.
"""

import pathlib
import tarfile
import zlib

import numpy as np

from keras_quadreg import _validation

IMAGE_SHAPE = (32, 32, 3)
RECORD_BYTES = 1 + 32 * 32 * 3
ARCHIVE_FOLDER = "cifar-10-batches-bin"


def _parse(f, size, where, limit):
    """Reads up to `limit` records from the open file `f` of `size` bytes."""
    if size % RECORD_BYTES:
        raise ValueError(
            f"Malformed CIFAR-10 binary file {where}: expected a whole number of "
            f"{RECORD_BYTES}-byte records (a label byte and 3072 pixel bytes). "
            f"Received: {size} bytes"
        )
    count = size // RECORD_BYTES if limit is None else min(limit, size // RECORD_BYTES)
    try:
        data = f.read(count * RECORD_BYTES)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as e:
        raise ValueError(f"Malformed CIFAR-10 binary file {where}: {e}") from None
    if len(data) != count * RECORD_BYTES:
        raise ValueError(
            f"Malformed CIFAR-10 binary file {where}: expected {count * RECORD_BYTES} "
            f"bytes for {count} records. Received: {len(data)} bytes"
        )
    records = np.frombuffer(data, np.uint8).reshape(count, RECORD_BYTES)
    images = records[:, 1:].reshape(count, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, 0].copy()


def _concatenate(parts):
    if not parts:
        return np.zeros((0, *IMAGE_SHAPE), np.uint8), np.zeros((0,), np.uint8)
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))


def read_batches(paths, limit=None):
    """Reads CIFAR-10 binary batch files, one after the other.

    Example:

    ```python
    images, labels = kq.data.cifar.read_batches(["cifar10/test_batch.bin"], limit=100)
    ```

    Args:
        paths: The `.bin` files, in order.
        limit: Read at most this many records (the first ones), or None.

    Returns:
        `(images, labels)`: uint8 arrays of shapes `(n, 32, 32, 3)` and `(n,)`.
    """
    if limit is not None:
        limit = _validation.integer("limit", limit)
    parts = []
    for path in paths:
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR-10 binary file not found. Received: path={str(path)!r}")
        with open(path, "rb") as f:
            parts.append(_parse(f, path.stat().st_size, repr(str(path)), limit))
        if limit is not None:
            limit -= len(parts[-1][1])
            if limit == 0:
                break
    return _concatenate(parts)


def read_archive(path, names, limit=None):
    """Reads CIFAR-10 batch files from the official archive, without extracting it.

    Example:

    ```python
    images, labels = kq.data.cifar.read_archive(
        "cifar10/cifar-10-binary.tar.gz", ["test_batch.bin"])
    ```

    Args:
        path: `cifar-10-binary.tar.gz`.
        names: Batch file names (`"data_batch_1.bin"`, ...), in order; they
            are read from the archive's `cifar-10-batches-bin/` folder.
        limit: Read at most this many records (the first ones), or None.

    Returns:
        `(images, labels)`: uint8 arrays of shapes `(n, 32, 32, 3)` and `(n,)`.
    """
    if limit is not None:
        limit = _validation.integer("limit", limit)
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 archive not found. Received: path={str(path)!r}")
    parts = []
    try:
        with tarfile.open(path, "r:*") as archive:
            for name in names:
                member_name = f"{ARCHIVE_FOLDER}/{name}"
                try:
                    member = archive.getmember(member_name)
                except KeyError:
                    raise ValueError(
                        f"Malformed CIFAR-10 archive {str(path)!r}: expected a member "
                        f"{member_name!r}. Received: members={archive.getnames()!r}"
                    ) from None
                where = f"{member_name!r} in {str(path)!r}"
                with archive.extractfile(member) as f:
                    parts.append(_parse(f, member.size, where, limit))
                if limit is not None:
                    limit -= len(parts[-1][1])
                    if limit == 0:
                        break
    except (OSError, EOFError, zlib.error, tarfile.TarError) as e:
        raise ValueError(f"Malformed CIFAR-10 archive {str(path)!r}: {e}") from None
    return _concatenate(parts)


def write_batch(path, images, labels):
    """Writes images and labels as one CIFAR-10 binary batch file.

    The inverse of `read_batches`, for test fixtures and for converting
    other sources to the offline layout.

    Example:

    ```python
    kq.data.cifar.write_batch("cifar10/test_batch.bin", images, labels)
    ```

    Args:
        path: The `.bin` file to write.
        images: uint8 array `(n, 32, 32, 3)`.
        labels: Integer array `(n,)` with values in [0, 255].

    Returns:
        The path, as a `pathlib.Path`.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            "Expected `images` to be a uint8 array of shape (n, 32, 32, 3). "
            f"Received: images.dtype={images.dtype}, images.shape={images.shape}"
        )
    if (
        labels.shape != images.shape[:1]
        or not np.issubdtype(labels.dtype, np.integer)
        or (labels.size and (labels.min() < 0 or labels.max() > 255))
    ):
        raise ValueError(
            f"Expected `labels` to be {len(images)} integers in [0, 255]. "
            f"Received: labels.shape={labels.shape}, labels.dtype={labels.dtype}"
        )
    records = np.concatenate(
        [labels.astype(np.uint8)[:, None], images.transpose(0, 3, 1, 2).reshape(len(images), -1)],
        axis=1,
    )
    path = pathlib.Path(path)
    path.write_bytes(records.tobytes())
    return path

"""Reader for the IDX format of the original MNIST and Fashion-MNIST files."""

import gzip
import pathlib
import struct
import zlib

import numpy as np

from keras_quadreg import _validation

_IMAGES_MAGIC = 2051  # uint8, 3 dimensions
_LABELS_MAGIC = 2049  # uint8, 1 dimension
# The magic number is two zero bytes, the element type, then the number of
# dimensions; the data are big-endian.
_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path):
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IDX file not found. Received: path={str(path)!r}")
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_bytes(f, size, path):
    # A file that is not gzip data, or whose compressed stream is cut short or
    # corrupted, fails inside `gzip` with one of these.
    try:
        return f.read(size)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"Malformed IDX file {str(path)!r}: {e}") from None


def _header(f, size, path):
    data = _read_bytes(f, size, path)
    if len(data) < size:
        raise ValueError(f"Malformed IDX file {str(path)!r}: truncated header")
    return struct.unpack(f">{size // 4}I", data)


def _read(path, limit, magic=None):
    if limit is not None:
        limit = _validation.integer("limit", limit)
    with _open(path) as f:
        (found,) = _header(f, 4, path)
        if magic is not None and found != magic:
            raise ValueError(
                f"Malformed IDX file {str(path)!r}: expected magic number {magic}. "
                f"Received: magic={found}"
            )
        dtype = _TYPES.get((found >> 8) & 0xFF)
        if found >> 16 or dtype is None or not found & 0xFF:
            raise ValueError(
                f"Malformed IDX file {str(path)!r}: expected a magic number of two zero "
                f"bytes, a type byte in {sorted(_TYPES)} and a number of dimensions >= 1. "
                f"Received: magic={found}"
            )
        dims = _header(f, 4 * (found & 0xFF), path)
        count = dims[0] if limit is None else min(limit, dims[0])
        size = int(np.prod(dims[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
        data = _read_bytes(f, count * size, path)
    if len(data) != count * size:
        raise ValueError(
            f"Malformed IDX file {str(path)!r}: expected {count * size} bytes of "
            f"data for {count} items. Received: {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype).reshape([count, *dims[1:]])
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def read(path, limit=None):
    """Reads an IDX file (gzip or raw); its header gives the element type and shape.

    Example:

    ```python
    images = kq.data.idx.read("mnist/t10k-images-idx3-ubyte.gz", limit=100)
    images.shape, images.dtype  # (100, 28, 28), uint8
    ```

    Args:
        path: The file; gzip-compressed when its name ends with `.gz`.
        limit: Read at most this many items (the first ones along the first
            axis), or None.

    Returns:
        An array `(n, *dims)` of the file's element type, in native byte order.
    """
    return _read(path, limit)


def read_images(path, limit=None):
    """`read` of an image file: uint8 `(n, rows, cols)`; raises for any other file."""
    return _read(path, limit, _IMAGES_MAGIC)


def read_labels(path, limit=None):
    """`read` of a label file: uint8 `(n,)`; raises for any other file."""
    return _read(path, limit, _LABELS_MAGIC)

"""Reader for the cropped-digits SVHN files (`train_32x32.mat`, `test_32x32.mat`).

Each file is a MATLAB file holding `X`, the images as a uint8 array
`(32, 32, 3, n)`, and `y`, the labels `(n, 1)` in 1-10 where 10 stands for
the digit 0 (TFDS's `svhn_cropped` maps it to 0 as well).
"""

import pathlib

import numpy as np

from keras_quadreg import _validation

IMAGE_SHAPE = (32, 32, 3)


def read(path, limit=None):
    """Reads one SVHN `.mat` file of cropped digits.

    Example:

    ```python
    images, labels = kq.data.svhn.read("svhn_cropped/test_32x32.mat", limit=100)
    ```

    Args:
        path: The `.mat` file.
        limit: Keep at most this many examples (the first ones), or None.

    Returns:
        `(images, labels)`: uint8 arrays of shapes `(n, 32, 32, 3)` and `(n,)`,
        labels in 0-9.
    """
    import scipy.io  # Only this reader needs SciPy.

    if limit is not None:
        limit = _validation.integer("limit", limit)
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SVHN file not found. Received: path={str(path)!r}")
    try:
        content = scipy.io.loadmat(path, variable_names=("X", "y"))
    except (OSError, ValueError, TypeError, NotImplementedError) as e:
        raise ValueError(f"Malformed SVHN file {str(path)!r}: {e}") from None
    images, labels = content.get("X"), content.get("y")
    if images is None or labels is None:
        raise ValueError(
            f"Malformed SVHN file {str(path)!r}: expected variables 'X' and 'y'. "
            f"Received: variables={sorted(k for k in content if not k.startswith('__'))}"
        )
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[:3] != IMAGE_SHAPE:
        raise ValueError(
            f"Malformed SVHN file {str(path)!r}: expected 'X' to be uint8 of shape "
            f"(32, 32, 3, n). Received: X.dtype={images.dtype}, X.shape={images.shape}"
        )
    labels = labels.reshape(-1)
    numeric = np.issubdtype(labels.dtype, np.number)
    in_range = numeric and np.all((labels == np.round(labels)) & (labels >= 1) & (labels <= 10))
    if labels.shape != images.shape[3:] or not in_range:
        values = f", values in [{labels.min()}, {labels.max()}]" if numeric and labels.size else ""
        raise ValueError(
            f"Malformed SVHN file {str(path)!r}: expected 'y' to hold {images.shape[3]} "
            f"integer labels in 1-10. Received: y.shape={content['y'].shape}{values}"
        )
    count = len(labels) if limit is None else min(limit, len(labels))
    images = np.ascontiguousarray(images[..., :count].transpose(3, 0, 1, 2))
    return images, (labels[:count] % 10).astype(np.uint8)

"""The datasets `kq.data.load` knows: shapes, classes, splits, sources."""

import dataclasses
import types

from keras_quadreg import _validation

DATA_DIR_ENV = "KERAS_QUADREG_DATA"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset before reading it.

    Attributes:
        name: The name `kq.data.load` takes (also its TFDS name).
        image_shape: `(height, width, channels)` of one image.
        num_classes: Number of classes; labels are `0 .. num_classes - 1`.
        class_names: Name of each class, by label.
        splits: Mapping from split name to number of examples.
        augmentation: What `augment=True` does: `"crop_flip"` (random
            crop after 4-pixel zero padding, then horizontal flip),
            `"crop"` (no flip: mirrored digits are other shapes), or None
            (not supported).
        raw_files: Mapping from split name to the original files read
            offline, in `<data_dir>/<name>/`.
        download_url: Where the original files (and TFDS) download from.
    """

    name: str
    image_shape: tuple
    num_classes: int
    class_names: tuple
    splits: types.MappingProxyType
    augmentation: str | None
    raw_files: types.MappingProxyType
    download_url: str


def _idx_dataset(name, class_names, download_url):
    """A 28x28 grayscale dataset of 10 classes in MNIST's IDX files."""
    files = lambda prefix: (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz")
    return DatasetInfo(
        name=name,
        image_shape=(28, 28, 1),
        num_classes=10,
        class_names=class_names,
        splits=types.MappingProxyType({"train": 60000, "test": 10000}),
        augmentation=None,
        raw_files=types.MappingProxyType({"train": files("train"), "test": files("t10k")}),
        download_url=download_url,
    )


_DIGITS = tuple(str(i) for i in range(10))

_CATALOG = {
    info.name: info
    for info in (
        _idx_dataset("mnist", _DIGITS, "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        _idx_dataset(
            "fashion_mnist",
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ),
        DatasetInfo(
            name="cifar10",
            image_shape=(32, 32, 3),
            num_classes=10,
            class_names=(
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
            splits=types.MappingProxyType({"train": 50000, "test": 10000}),
            augmentation="crop_flip",
            raw_files=types.MappingProxyType(
                {
                    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                    "test": ("test_batch.bin",),
                }
            ),
            download_url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        ),
        DatasetInfo(
            name="svhn_cropped",
            image_shape=(32, 32, 3),
            num_classes=10,
            class_names=_DIGITS,
            splits=types.MappingProxyType({"train": 73257, "test": 26032, "extra": 531131}),
            augmentation="crop",
            raw_files=types.MappingProxyType(
                {split: (f"{split}_32x32.mat",) for split in ("train", "test", "extra")}
            ),
            download_url="http://ufldl.stanford.edu/housenumbers/",
        ),
    )
}


def names():
    """The names of the datasets `kq.data.load` knows.

    Example:

    ```python
    kq.data.names()  # ('mnist', 'fashion_mnist', 'cifar10', 'svhn_cropped')
    ```

    Returns:
        A tuple of names.
    """
    return tuple(_CATALOG)


def info(name):
    """Shapes, classes and splits of a dataset, without reading it.

    Example:

    ```python
    spec = kq.data.info("cifar10")
    inputs, outputs = kq.architectures.preact_resnet18(
        spec.image_shape, spec.num_classes)
    ```

    Args:
        name: One of `kq.data.names()`.

    Returns:
        A `kq.data.DatasetInfo`.
    """
    return _CATALOG[_validation.choice("name", name, names())]

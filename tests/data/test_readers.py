import gzip
import io
import struct
import tarfile

import numpy as np
import pytest
import scipy.io

from keras_quadreg.data import cifar, idx, svhn
from tests.conftest import SHARED_DATA
from tests.data.conftest import write_cifar10

MNIST = SHARED_DATA / "mnist"


def _idx_bytes(magic, dims, data):
    return struct.pack(f">{1 + len(dims)}I", magic, *dims) + bytes(data)


def test_idx_reads_the_shared_files_gzipped_or_not(tmp_path):
    images = idx.read_images(MNIST / "t10k-images-idx3-ubyte.gz", limit=3)
    labels = idx.read_labels(MNIST / "t10k-labels-idx1-ubyte.gz", limit=3)
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [7, 2, 1])  # the first MNIST test digits
    plain = tmp_path / "t10k-images-idx3-ubyte"
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz") as f:
        plain.write_bytes(f.read(16 + 3 * 784))
    np.testing.assert_array_equal(idx.read_images(plain, limit=3), images)


@pytest.mark.parametrize(
    "content, message",
    [
        (
            gzip.compress(_idx_bytes(1234, (1, 28, 28), bytes(784))),
            "expected magic number 2051. Received: magic=1234",
        ),
        (gzip.compress(b"\x00\x00\x08"), "truncated header"),
        (
            gzip.compress(_idx_bytes(2051, (2, 28, 28), bytes(784))),
            "expected 1568 bytes of data for 2 items. Received: 784 bytes",
        ),
        (
            gzip.compress(_idx_bytes(2051, (2, 28, 28), bytes(1568)))[:-30],
            "Compressed file ended before the end-of-stream marker was reached",
        ),
        (_idx_bytes(2051, (1, 28, 28), bytes(784)), "Not a gzipped file"),
    ],
    ids=["bad-magic", "truncated-header", "truncated-data", "truncated-gzip", "not-gzip"],
)
def test_idx_rejects_malformed_files(tmp_path, content, message):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^Malformed IDX file '{path}': .*{message}"):
        idx.read_images(path)


def test_idx_read_takes_type_and_shape_from_the_header(tmp_path):
    values = (np.arange(12).reshape(3, 2, 2) / 4).astype(">f4")
    path = tmp_path / "values-idx3-float"
    path.write_bytes(_idx_bytes(0x0D03, (3, 2, 2), values.tobytes()))
    read = idx.read(path, limit=2)
    assert read.dtype == np.float32 and read.dtype.isnative
    np.testing.assert_array_equal(read, values[:2])
    np.testing.assert_array_equal(idx.read(MNIST / "t10k-labels-idx1-ubyte.gz", limit=3), [7, 2, 1])


@pytest.mark.parametrize("magic", [0x010803, 0x0A03, 0x0800])
def test_idx_read_rejects_an_unknown_magic_number(tmp_path, magic):
    path = tmp_path / "x-idx"
    path.write_bytes(_idx_bytes(magic, (1, 1, 1), bytes(1)))
    with pytest.raises(
        ValueError,
        match=(
            f"^Malformed IDX file '{path}': expected a magic number of two zero bytes, a type byte "
            r"in \[8, 9, 11, 12, 13, 14\] and a number of dimensions >= 1. Received: "
            rf"magic={magic}$"
        ),
    ):
        idx.read(path)


def test_cifar10_record_layout():
    # One record by hand: label, then the red, green and blue planes, rows first.
    planes = np.zeros((3, 32, 32), np.uint8)
    planes[0, 0, 1] = 11  # red of row 0, column 1
    planes[1, 2, 0] = 22  # green of row 2, column 0
    planes[2, 31, 31] = 33
    f = io.BytesIO(bytes([7]) + planes.tobytes())
    images, labels = cifar._parse(f, cifar.RECORD_BYTES, "record", None)
    assert labels.tolist() == [7] and images.shape == (1, 32, 32, 3)
    assert images[0, 0, 1, 0] == 11 and images[0, 2, 0, 1] == 22 and images[0, 31, 31, 2] == 33
    assert images.sum() == 66


def test_cifar10_batches_and_archive_read_back(tmp_path):
    arrays = write_cifar10(tmp_path)
    folder = tmp_path / "cifar10"
    names = [f"data_batch_{i}.bin" for i in range(1, 6)]
    images, labels = cifar.read_batches([folder / n for n in names])
    np.testing.assert_array_equal(images, arrays["train"][0])
    np.testing.assert_array_equal(labels, arrays["train"][1])
    # `limit` stops in the middle of the second file.
    images, labels = cifar.read_batches([folder / n for n in names], limit=6)
    np.testing.assert_array_equal(images, arrays["train"][0][:6])
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in names:
            tar.add(folder / name, arcname=f"cifar-10-batches-bin/{name}")
    images, labels = cifar.read_archive(archive, names, limit=7)
    np.testing.assert_array_equal(images, arrays["train"][0][:7])
    np.testing.assert_array_equal(labels, arrays["train"][1][:7])


def test_cifar10_rejects_malformed_files(tmp_path):
    write_cifar10(tmp_path)
    path = tmp_path / "cifar10" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        ValueError,
        match=rf"^Malformed CIFAR-10 binary file '{path}': expected a whole number of "
        rf"3073-byte records \(a label byte and 3072 pixel bytes\). Received: 18338 bytes$",
    ):
        cifar.read_batches([path])
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(
            tmp_path / "cifar10" / "data_batch_1.bin",
            arcname="cifar-10-batches-bin/data_batch_1.bin",
        )
    with pytest.raises(
        ValueError,
        match=rf"^Malformed CIFAR-10 archive '{archive}': expected a member "
        r"'cifar-10-batches-bin/test_batch.bin'. Received: "
        r"members=\['cifar-10-batches-bin/data_batch_1.bin'\]$",
    ):
        cifar.read_archive(archive, ["test_batch.bin"])
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(ValueError, match=f"^Malformed CIFAR-10 archive '{archive}': "):
        cifar.read_archive(archive, ["data_batch_1.bin"])
    with pytest.raises(FileNotFoundError, match="^CIFAR-10 binary file not found. Received: path="):
        cifar.read_batches([tmp_path / "missing.bin"])


def test_svhn_reads_images_and_maps_label_10_to_digit_0(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    path = tmp_path / "test_32x32.mat"
    scipy.io.savemat(path, {"X": images, "y": np.array([[10], [1], [9], [10]], np.uint8)})
    read_images, labels = svhn.read(path)
    np.testing.assert_array_equal(read_images[2], images[..., 2])
    np.testing.assert_array_equal(labels, [0, 1, 9, 0])
    assert svhn.read(path, limit=3)[0].shape == (3, 32, 32, 3)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "Unknown mat file type"),
        (
            {"X": np.zeros((32, 32, 3, 2), np.uint8)},
            r"expected variables 'X' and 'y'. Received: variables=\['X'\]",
        ),
        (
            {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": np.ones((2, 1))},
            r"expected 'X' to be uint8 of shape \(32, 32, 3, n\). Received: X.dtype=uint8, "
            r"X.shape=\(28, 28, 1, 2\)",
        ),
        (
            {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [11]])},
            r"expected 'y' to hold 2 integer labels in 1-10. Received: y.shape=\(2, 1\), values in "
            r"\[0, 11\]",
        ),
        (
            {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))},
            r"expected 'y' to hold 2 integer labels in 1-10. Received: y.shape=\(3, 1\), values in "
            r"\[1.0, 1.0\]",
        ),
    ],
    ids=["not-mat", "no-labels", "wrong-shape", "label-range", "label-count"],
)
def test_svhn_rejects_malformed_files(tmp_path, content, message):
    path = tmp_path / "train_32x32.mat"
    if content is None:
        path.write_bytes(b"not a MATLAB file" * 20)
    else:
        scipy.io.savemat(path, content)
    with pytest.raises(ValueError, match=f"^Malformed SVHN file '{path}': {message}"):
        svhn.read(path)

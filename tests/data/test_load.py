import dataclasses
import shutil
import socket
import time

import numpy as np
import pytest
import tensorflow as tf

import keras_quadreg as kq
from keras_quadreg.data import catalog, idx, tfds_source
from tests.conftest import SHARED_DATA
from tests.data.conftest import write_cifar10, write_svhn


def _batches(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_raw_files_give_batched_scaled_images_and_labels(name):
    dataset = kq.data.load(name, "train", 128, data_dir=SHARED_DATA, limit=300, shuffle=False)
    assert dataset.element_spec == (
        tf.TensorSpec((None, 28, 28, 1), tf.float32),
        tf.TensorSpec((None,), tf.int64),
    )
    batches = _batches(dataset)
    assert [len(y) for _, y in batches] == [128, 128, 44]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    root = SHARED_DATA / name
    raw = idx.read_images(root / "train-images-idx3-ubyte.gz", 300)
    np.testing.assert_array_equal(images[..., 0], raw / np.float32(255))
    np.testing.assert_array_equal(labels, idx.read_labels(root / "train-labels-idx1-ubyte.gz", 300))
    assert images.min() == 0.0 and images.max() == 1.0


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_whole_shared_splits_load_and_check(name):
    for split, size in (("train", 60000), ("test", 10000)):
        images, labels = kq.data.load_arrays(name, split, data_dir=SHARED_DATA)
        assert images.shape == (size, 28, 28, 1) and images.dtype == np.float32
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(np.unique(labels), np.arange(10))


def test_environment_variable_locates_raw_files(monkeypatch):
    monkeypatch.setenv(kq.data.DATA_DIR_ENV, str(SHARED_DATA))
    images, labels = kq.data.load_arrays("mnist", "test", limit=5)
    np.testing.assert_array_equal(labels, [7, 2, 1, 0, 4])
    # The argument wins over the variable.
    monkeypatch.setenv(kq.data.DATA_DIR_ENV, "/nonexistent")
    assert kq.data.load_arrays("mnist", "test", data_dir=SHARED_DATA, limit=5)[1].tolist() == [
        7,
        2,
        1,
        0,
        4,
    ]


def test_shuffling_is_seeded_per_epoch_and_covers_the_split():
    load = lambda seed: kq.data.load(
        "mnist", "test", 64, data_dir=SHARED_DATA, limit=256, shuffle=True, seed=seed
    )
    dataset = load(0)
    first, second = _batches(dataset), _batches(dataset)
    again = _batches(load(0))
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    order = lambda batches: np.concatenate([y for _, y in batches])
    assert not np.array_equal(order(first), order(second))  # a new order every epoch
    assert not np.array_equal(order(first), order(_batches(load(1))))
    unshuffled = kq.data.load_arrays("mnist", "test", data_dir=SHARED_DATA, limit=256)[1]
    np.testing.assert_array_equal(np.sort(order(first)), np.sort(unshuffled))
    # Test splits are not shuffled unless asked.
    test_order = order(_batches(kq.data.load("mnist", "test", 64, data_dir=SHARED_DATA, limit=256)))
    np.testing.assert_array_equal(test_order, unshuffled)


def test_cifar10_raw_layouts(tmp_path):
    arrays = write_cifar10(tmp_path / "flat")
    images, labels = kq.data.load_arrays("cifar10", "train", data_dir=tmp_path / "flat", limit=20)
    np.testing.assert_array_equal(images, arrays["train"][0] / np.float32(255))
    np.testing.assert_array_equal(labels, arrays["train"][1])
    # As extracted from the archive: cifar10/cifar-10-batches-bin/*.bin
    nested = tmp_path / "nested" / "cifar10"
    nested.mkdir(parents=True)
    shutil.copytree(tmp_path / "flat" / "cifar10", nested / "cifar-10-batches-bin")
    _, labels = kq.data.load_arrays("cifar10", "test", data_dir=tmp_path / "nested", limit=6)
    np.testing.assert_array_equal(labels, arrays["test"][1])


def test_svhn_raw_files(tmp_path):
    arrays = write_svhn(tmp_path)
    dataset = kq.data.load("svhn_cropped", "train", 4, data_dir=tmp_path, limit=9, shuffle=False)
    images = np.concatenate([x for x, _ in _batches(dataset)])
    labels = np.concatenate([y for _, y in _batches(dataset)])
    np.testing.assert_array_equal(images, arrays["train"][0] / np.float32(255))
    np.testing.assert_array_equal(labels, arrays["train"][1])


def _shifted_or_flipped(augmented, original, padding=4):
    """Whether `augmented` is `original` shifted by at most `padding` pixels (zeros
    filling in), possibly mirrored; returns the flip or None."""
    padded = np.pad(original, [(padding, padding), (padding, padding), (0, 0)])
    size = original.shape[0]
    for flip in (False, True):
        candidate = augmented[:, ::-1] if flip else augmented
        for dy in range(2 * padding + 1):
            for dx in range(2 * padding + 1):
                if np.array_equal(padded[dy : dy + size, dx : dx + size], candidate):
                    return flip
    return None


@pytest.mark.parametrize("name, flips", [("cifar10", True), ("svhn_cropped", False)])
def test_augmentation_crops_and_flips_deterministically(tmp_path, name, flips):
    (write_cifar10 if name == "cifar10" else write_svhn)(tmp_path)
    load = lambda seed: kq.data.load(
        name, "train", 9, data_dir=tmp_path, limit=9, shuffle=False, augment=True, seed=seed
    )
    originals = kq.data.load_arrays(name, "train", data_dir=tmp_path, limit=9)[0]
    dataset = load(3)
    first, second = _batches(dataset)[0][0], _batches(dataset)[0][0]
    np.testing.assert_array_equal(first, _batches(load(3))[0][0])
    assert not np.array_equal(first, second)  # new crops every epoch
    assert not np.array_equal(first, _batches(load(4))[0][0])
    found = [
        _shifted_or_flipped(a, o)
        for a, o in zip(np.concatenate([first, second]), np.concatenate([originals, originals]))
    ]
    assert None not in found
    assert any(found) == flips


@pytest.mark.parametrize("name", kq.data.names())
def test_tfds_source_with_mock_data(mock_tfds, name):
    mock_tfds(10)
    spec = kq.data.info(name)
    dataset = kq.data.load(name, "train", 4, augment=spec.augmentation is not None)
    assert dataset.element_spec == (
        tf.TensorSpec((None, *spec.image_shape), tf.float32),
        tf.TensorSpec((None,), tf.int64),
    )
    batches = _batches(dataset)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    for images, labels in batches:
        assert images.min() >= 0 and images.max() <= 1
        assert labels.min() >= 0 and labels.max() < spec.num_classes
    images, labels = kq.data.load_arrays(name, "test", limit=3)
    assert images.shape == (3, *spec.image_shape) and labels.dtype == np.int64


def test_tfds_labels_out_of_range_fail_clearly(mock_tfds):
    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_tensors(
            {"image": tf.zeros((32, 32, 3), tf.uint8), "label": tf.constant(12, tf.int64)}
        )

    mock_tfds(1, as_dataset_fn=as_dataset)
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"Expected labels in \[0, 9\] in TFDS cifar10 \(test\)",
    ):
        _batches(kq.data.load("cifar10", "test"))


def test_unknown_dataset_and_split():
    with pytest.raises(
        ValueError,
        match=r"^Expected `name` to be one of \['mnist', 'fashion_mnist', 'cifar10', "
        r"'svhn_cropped'\]. Received: name='imagenet'$",
    ):
        kq.data.load("imagenet")
    with pytest.raises(
        ValueError,
        match=r"^Expected `split` to be one of \['train', 'test'\], optionally sliced by example "
        r"indices as in 'train\[:-1000\]'. Received: split='extra'$",
    ):
        kq.data.load("cifar10", "extra")


def test_missing_data_directory(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(
        FileNotFoundError,
        match=rf"^Data directory not found: expected an existing directory holding one "
        rf"folder of raw files per dataset. Received: data_dir='{missing}'$",
    ):
        kq.data.load("mnist", data_dir=missing)
    monkeypatch.setenv(kq.data.DATA_DIR_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=rf"Received: KERAS_QUADREG_DATA='{missing}'$"):
        kq.data.load_arrays("mnist")


def test_incomplete_raw_folder_says_which_files_are_missing(tmp_path):
    (tmp_path / "mnist").mkdir()
    shutil.copy(SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz", tmp_path / "mnist")
    with pytest.raises(
        FileNotFoundError,
        match=rf"^Raw files of mnist \(test split\) not found in '{tmp_path / 'mnist'}': "
        r"missing 't10k-labels-idx1-ubyte.gz'. To load mnist offline, put the original files "
        r"train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        r"t10k-labels-idx1-ubyte.gz, from https://storage.googleapis.com/cvdf-datasets/mnist/, "
        r"in <data_dir>/mnist/ where <data_dir> is the `data_dir` argument or the "
        r"KERAS_QUADREG_DATA environment variable.$",
    ):
        kq.data.load("mnist", "test", data_dir=tmp_path)


def test_unavailable_dataset_says_how_to_provide_it(no_data_env, tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        kq.data.load("cifar10", "train", download=False)
    message = str(error.value)
    assert message.startswith(
        "Cannot load cifar10 (train split). Raw files: neither `data_dir` nor "
        "KERAS_QUADREG_DATA is set. TFDS: no prepared copy in "
    )
    assert message.endswith(
        "cifar10/3.0.2' and download=False. To load it offline, put the original files "
        "data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, "
        "data_batch_5.bin, test_batch.bin (extracted, or the archive cifar-10-binary.tar.gz "
        "itself), from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, in "
        "<data_dir>/cifar10/ where <data_dir> is the `data_dir` argument or the "
        "KERAS_QUADREG_DATA environment variable; or prepare it with TFDS (`tfds build "
        "cifar10`) on a machine with network and copy its data directory (TFDS_DATA_DIR)."
    )
    with pytest.raises(
        FileNotFoundError,
        match=rf"^Raw files of svhn_cropped not found: '{tmp_path / 'svhn_cropped'}' "
        r"does not exist. To load it offline, put the original files train_32x32.mat, "
        r"test_32x32.mat",
    ):
        kq.data.load("svhn_cropped", data_dir=tmp_path, source="raw")


def test_malformed_raw_files_fail_on_load(tmp_path):
    # A label file where the images should be.
    (tmp_path / "mnist").mkdir()
    labels = SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz"
    shutil.copy(labels, tmp_path / "mnist")
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    shutil.copy(labels, path)
    with pytest.raises(
        ValueError,
        match=f"^Malformed IDX file '{path}': expected magic number 2051. Received: magic=2049$",
    ):
        kq.data.load("mnist", "test", data_dir=tmp_path)
    # Files that are well-formed but not the split: too few examples, labels out of range.
    write_cifar10(tmp_path)
    where = rf"cifar10 raw files \(test split\) in '{tmp_path / 'cifar10'}'"
    with pytest.raises(
        ValueError,
        match=rf"^Expected 10000 images and labels in the {where} \(the split has 10000\). "
        r"Received: 6 images, 6 labels$",
    ):
        kq.data.load_arrays("cifar10", "test", data_dir=tmp_path)
    test_batch = tmp_path / "cifar10" / "test_batch.bin"
    records = bytearray(test_batch.read_bytes())
    records[3 * 3073] = 10
    test_batch.write_bytes(bytes(records))
    with pytest.raises(
        ValueError,
        match=rf"^Expected labels in \[0, 9\] in the {where}. Received: label=10 at index 3$",
    ):
        kq.data.load("cifar10", "test", data_dir=tmp_path, limit=6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "Expected `batch_size` to be an integer >= 1. Received: batch_size=0"),
        ({"limit": 0}, "Expected `limit` to be an integer >= 1. Received: limit=0"),
        ({"shuffle": "yes"}, "Expected `shuffle` to be True or False. Received: shuffle='yes'"),
        ({"seed": -1}, "Expected `seed` to be an integer >= 0. Received: seed=-1"),
        (
            {"source": "web"},
            r"Expected `source` to be one of \['auto', 'raw', 'tfds'\]. Received: source='web'",
        ),
        ({"download": 1}, "Expected `download` to be True or False. Received: download=1"),
        (
            {"augment": True},
            r"Expected augment=False for mnist: augmentation is defined for \['cifar10', "
            r"'svhn_cropped'\]. Received: augment=True",
        ),
        (
            {"limit": 100, "batch_size": 128, "drop_remainder": True},
            r"Expected batch_size <= the number of examples \(100\) with drop_remainder=True, "
            r"which would otherwise give no batch. Received: batch_size=128",
        ),
        (
            {"data_dir": SHARED_DATA, "source": "tfds"},
            r"Expected data_dir=None with source='tfds': `data_dir` locates raw files. Received: "
            rf"data_dir='{SHARED_DATA}'",
        ),
        ({"data_dir": 3}, "Expected `data_dir` to be a path or None. Received: data_dir=3"),
    ],
)
def test_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        kq.data.load("mnist", **kwargs)


def test_drop_remainder_gives_static_batch_shapes():
    dataset = kq.data.load(
        "mnist", "test", 64, data_dir=SHARED_DATA, limit=200, drop_remainder=True
    )
    assert dataset.element_spec[0].shape == (64, 28, 28, 1)
    assert len(_batches(dataset)) == 3


@pytest.fixture
def silent_server():
    """A local TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/cifar-10-binary.tar.gz"
    server.close()


def test_download_probe_cannot_hang(no_data_env, monkeypatch, tmp_path, silent_server):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path))  # nothing prepared
    monkeypatch.setattr(tfds_source, "PROBE_TIMEOUT_SECONDS", 0.5)
    info = dataclasses.replace(kq.data.info("cifar10"), download_url=silent_server)
    monkeypatch.setitem(catalog._CATALOG, "cifar10", info)
    start = time.monotonic()
    with pytest.raises(
        FileNotFoundError,
        match=rf"TFDS: no prepared copy in '{tmp_path}/cifar10/3.0.2' and cannot download it: "
        rf"{silent_server} could not be reached within 0.5 s \(no network\?\)",
    ):
        kq.data.load("cifar10", "test")
    assert time.monotonic() - start < 5


def test_probe_accepts_any_http_answer():
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert tfds_source.reachable(f"http://127.0.0.1:{server.server_port}/x", 5)
    finally:
        server.shutdown()
        server.server_close()
    assert not tfds_source.reachable("http://invalid.invalid/", 5)


@pytest.mark.parametrize(
    "split, rows",
    [
        ("train[:-1000]", slice(0, 59000)),
        ("train[-1000:]", slice(59000, 60000)),
        ("train[50:80]", slice(50, 80)),
        ("test[9990:]", slice(9990, 10000)),
    ],
)
def test_sliced_splits_select_their_examples(split, rows, mnist_splits):
    x, y = kq.data.load_arrays("mnist", split, data_dir=SHARED_DATA)
    x_all, y_all = mnist_splits[split.partition("[")[0]]
    np.testing.assert_array_equal(x, x_all[rows])
    np.testing.assert_array_equal(y, y_all[rows])
    # `limit` keeps the first examples of the slice; `load` batches the same.
    batches = _batches(
        kq.data.load("mnist", split, 8, data_dir=SHARED_DATA, limit=20, shuffle=False)
    )
    np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), y_all[rows][:20])


@pytest.fixture(scope="module")
def mnist_splits():
    return {s: kq.data.load_arrays("mnist", s, data_dir=SHARED_DATA) for s in ("train", "test")}


@pytest.mark.parametrize(
    "split, message",
    [
        (
            "train[5:5]",
            "Expected the slice of `split` to select at least one of the 60000 examples of "
            "mnist (train). Received: split='train[5:5]'",
        ),
        (
            "train[0.5:]",
            "Expected `split` to be one of ['train', 'test'], optionally sliced by example "
            "indices as in 'train[:-1000]'. Received: split='train[0.5:]'",
        ),
    ],
)
def test_bad_slices_are_refused_before_reading(split, message):
    with pytest.raises(ValueError) as error:
        kq.data.load("mnist", split, data_dir="/nonexistent")
    assert str(error.value) == message

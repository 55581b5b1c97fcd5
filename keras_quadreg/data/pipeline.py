"""`kq.data.load`: a dataset in one line, from raw files or TFDS."""

import logging
import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_quadreg import _validation
from keras_quadreg.data import augmentation, catalog, epochs, raw, splits, tfds_source

SOURCES = ("auto", "raw", "tfds")
_CHUNK = 1024

_logger = logging.getLogger(__name__)


def _data_root(data_dir):
    """The raw-file directory: `data_dir`, else `$KERAS_QUADREG_DATA`, else None."""
    if data_dir is not None:
        origin, root = "data_dir", data_dir
    elif os.environ.get(catalog.DATA_DIR_ENV):
        origin, root = catalog.DATA_DIR_ENV, os.environ[catalog.DATA_DIR_ENV]
    else:
        return None
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"Expected `data_dir` to be a path or None. Received: data_dir={root!r}")
    if not pathlib.Path(root).is_dir():
        raise FileNotFoundError(
            f"Data directory not found: expected an existing directory holding one "
            f"folder of raw files per dataset. Received: {origin}={str(root)!r}"
        )
    return pathlib.Path(root)


def _examples(info, split, data_dir, source, download, limit):
    """The examples of a split, sliced as it says (`"train[:-1000]"`), as arrays:
    uint8 images and int64 labels, from raw files or TFDS.

    Raw files are used when `<data_dir>/<name>/` exists; otherwise TFDS.
    """
    split, selection = splits.parse(split, info)
    if selection == slice(None):
        return _split_examples(info, split, data_dir, source, download, limit)
    images, labels = _split_examples(info, split, data_dir, source, download, None)
    images, labels = images[selection][:limit], labels[selection][:limit]
    return images, labels


def _split_examples(info, split, data_dir, source, download, limit):
    if data_dir is not None and source == "tfds":
        raise ValueError(
            "Expected data_dir=None with source='tfds': `data_dir` locates raw files. "
            f"Received: data_dir={str(data_dir)!r}"
        )
    root = None if source == "tfds" else _data_root(data_dir)
    if root is not None and (root / info.name).is_dir():
        _logger.info("Reading %s (%s) from raw files in %s", info.name, split, root / info.name)
        return raw.read(info, split, root, limit)
    searched = (
        f"{str(root / info.name)!r} does not exist"
        if root is not None
        else f"neither `data_dir` nor {catalog.DATA_DIR_ENV} is set"
    )
    if source == "raw":
        raise FileNotFoundError(
            f"Raw files of {info.name} not found: {searched}. To load it offline, "
            f"{raw.instructions(info, split)}."
        )
    try:
        dataset = tfds_source.examples(info, split, download)
    except tfds_source.Unavailable as e:
        raise FileNotFoundError(
            f"Cannot load {info.name} ({split} split). Raw files: {searched}. TFDS: {e}. "
            f"To load it offline, {raw.instructions(info, split)}; or prepare it with "
            f"TFDS (`tfds build {info.name}`) on a machine with network and copy its "
            f"data directory (TFDS_DATA_DIR)."
        ) from None
    _logger.info("Reading %s (%s) from TFDS", info.name, split)
    if limit is not None:
        dataset = dataset.take(limit)
    # Into memory, as the former `cache()` did: epochs are drawn by index.
    batches = list(dataset.map(_label_checker(info, split)).batch(4096).as_numpy_iterator())
    return tuple(np.concatenate(parts) for parts in zip(*batches))


def _label_checker(info, split):
    message = f"Expected labels in [0, {info.num_classes - 1}] in TFDS {info.name} ({split})"

    def check(image, label):
        with tf.control_dependencies(
            [
                tf.debugging.assert_non_negative(label, message=message),
                tf.debugging.assert_less(
                    label, tf.constant(info.num_classes, tf.int64), message=message
                ),
            ]
        ):
            return image, tf.identity(label)

    return check


def _check_common(name, split, data_dir, source, download, limit):
    info = catalog.info(name)
    splits.parse(split, info)
    _validation.choice("source", source, SOURCES)
    _validation.boolean("download", download)
    if limit is not None:
        _validation.integer("limit", limit, minimum=1)
    return info


def _to_float(images, labels):
    return tf.cast(images, tf.float32) / 255.0, labels


def _epochs(examples, counter, *, seed, shuffle, flip=None):
    """Epoch after epoch, each ordered (`shuffle`) and augmented (`flip` not
    None: crop, and flip if True) as a function of `(seed, epoch)` alone, the
    epoch read from `counter` as each iteration starts."""
    images, labels = (tf.constant(a) for a in examples)
    size = len(examples[1])

    def epoch(number):
        order_seed, augment_seed = tf.unstack(
            tf.random.experimental.stateless_split(
                tf.stack([tf.constant(seed, tf.int64), number]), 2
            )
        )
        indices = tf.range(size, dtype=tf.int64)
        if shuffle:
            indices = tf.random.experimental.stateless_shuffle(indices, seed=order_seed)

        # Gathered in chunks: a map call per example would cost more than the rest.
        chunks = tf.data.Dataset.from_tensor_slices(indices).batch(_CHUNK)
        dataset = chunks.map(lambda i: (i, tf.gather(images, i), tf.gather(labels, i))).unbatch()
        if flip is None:
            return dataset.map(lambda index, image, label: (image, label))

        def augment(index, image, label):  # seeded per example: independent of the order
            seed = tf.random.experimental.stateless_fold_in(augment_seed, index)
            return augmentation.random_crop_flip(image, seed, flip=flip), label

        return dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    dataset = tf.data.Dataset.from_tensors(0).map(lambda _: counter.next_epoch()).flat_map(epoch)
    return dataset.apply(tf.data.experimental.assert_cardinality(size))


def load(
    name,
    split="train",
    batch_size=128,
    *,
    data_dir=None,
    source="auto",
    download=True,
    limit=None,
    shuffle=None,
    augment=False,
    seed=0,
    drop_remainder=False,
    epoch_counter=None,
):
    """A batched, prefetched `tf.data.Dataset` of one split of an image dataset.

    Elements are `(images, labels)`: float32 images `(batch, height, width,
    channels)` scaled to [0, 1] and int64 labels `(batch,)`, ready for
    `model.fit`.

    Sources, in order (`source="auto"`):

    1. The original raw files in `<data_dir>/<name>/`, where `data_dir` is
       the argument or the `KERAS_QUADREG_DATA` environment variable (see
       `kq.data.info(name).raw_files` for the file names). When that folder
       exists, it is the source and its files must be complete and valid.
    2. TFDS: a prepared copy in its data directory, else a download (when
       `download=True` and the download host answers within
       `kq.data.tfds_source.PROBE_TIMEOUT_SECONDS`).

    Otherwise a `FileNotFoundError` says which files to put where.
    Raw files are checked on load (shapes, counts, label range) and a
    malformed file raises a `ValueError` naming it.

    Shuffling and augmentation differ from one epoch to the next: epoch `e`
    is a function of `(seed, e)` alone. The epoch is counted by
    `epoch_counter`; pass one that is also a callback of `fit` for a run
    resumed by `keras.callbacks.BackupAndRestore` to see the same data as
    an uninterrupted one (see `kq.data.EpochCounter`).

    Example:

    ```python
    train = kq.data.load("cifar10", "train", 128, augment=True, seed=1)
    test = kq.data.load("cifar10", "test", 500, limit=1000)
    model.fit(train, validation_data=test, epochs=30)
    ```

    Args:
        name: `"mnist"`, `"fashion_mnist"`, `"cifar10"` or `"svhn_cropped"`.
        split: `"train"` or `"test"` (`"extra"` for SVHN), optionally
            sliced by example indices as TFDS writes it: `"train[:-1000]"`
            (all but the last 1,000, e.g. to train on) and `"train[-1000:]"`
            (those 1,000, e.g. to select a checkpoint on).
        batch_size: Examples per batch.
        data_dir: Directory of raw files, one folder per dataset; defaults
            to the `KERAS_QUADREG_DATA` environment variable.
        source: `"auto"`, `"raw"` (raw files only) or `"tfds"` (TFDS only).
        download: Whether TFDS may download a dataset it has not prepared.
        limit: Use only the first `limit` examples of the split (quick runs
            and tests), or None for all.
        shuffle: Whether to shuffle (over the whole split, every epoch);
            defaults to True for `"train"`, False otherwise.
        augment: Random crop (4-pixel zero padding) and horizontal flip for
            `cifar10`, random crop only for `svhn_cropped` (flipped digits
            are other shapes); see `kq.data.random_crop_flip`.
        seed: Seed of shuffling and augmentation, an integer >= 0.
        drop_remainder: Whether to drop the last, smaller batch.
        epoch_counter: A `kq.data.EpochCounter`, or None for one of the
            dataset's own, which counts its iterations from 0.

    Returns:
        A `tf.data.Dataset` of `(images, labels)` batches.
    """
    info = _check_common(name, split, data_dir, source, download, limit)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    shuffle = (
        splits.parse(split, info)[0] == "train"
        if shuffle is None
        else _validation.boolean("shuffle", shuffle)
    )
    augment = _validation.boolean("augment", augment)
    if augment and info.augmentation is None:
        supported = [n for n in catalog.names() if catalog.info(n).augmentation]
        raise ValueError(
            f"Expected augment=False for {name}: augmentation is defined for {supported}. "
            f"Received: augment={augment}"
        )
    seed = _validation.integer("seed", seed)
    drop_remainder = _validation.boolean("drop_remainder", drop_remainder)
    if epoch_counter is not None and not isinstance(epoch_counter, epochs.EpochCounter):
        raise ValueError(
            "Expected `epoch_counter` to be a kq.data.EpochCounter or None. "
            f"Received: epoch_counter={epoch_counter!r}"
        )
    size = splits.size(info, *splits.parse(split, info), limit)
    if drop_remainder and batch_size > size:
        raise ValueError(
            f"Expected batch_size <= the number of examples ({size}) with "
            f"drop_remainder=True, which would otherwise give no batch. "
            f"Received: batch_size={batch_size}"
        )

    examples = _examples(info, split, data_dir, source, download, limit)
    if shuffle or augment:
        flip = (info.augmentation == "crop_flip") if augment else None
        dataset = _epochs(
            examples, epoch_counter or epochs.EpochCounter(), seed=seed, shuffle=shuffle, flip=flip
        )
    else:
        dataset = tf.data.Dataset.from_tensor_slices(examples)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = dataset.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_arrays(name, split="test", *, data_dir=None, source="auto", download=True, limit=None):
    """One split as NumPy arrays, from the same sources as `kq.data.load`.

    For tools that take arrays (attack libraries, plotting) and for quick
    experiments on small subsets.

    Example:

    ```python
    x_test, y_test = kq.data.load_arrays("mnist", "test", limit=1000)
    ```

    Args:
        name: `"mnist"`, `"fashion_mnist"`, `"cifar10"` or `"svhn_cropped"`.
        split: `"train"` or `"test"` (`"extra"` for SVHN), optionally
            sliced as in `kq.data.load` (`"train[-1000:]"`).
        data_dir: Directory of raw files, one folder per dataset; defaults
            to the `KERAS_QUADREG_DATA` environment variable.
        source: `"auto"`, `"raw"` or `"tfds"`, as in `kq.data.load`.
        download: Whether TFDS may download a dataset it has not prepared.
        limit: Keep only the first `limit` examples, or None for all.

    Returns:
        `(images, labels)`: float32 array `(n, height, width, channels)` in
        [0, 1] and int64 array `(n,)`.
    """
    info = _check_common(name, split, data_dir, source, download, limit)
    images, labels = _examples(info, split, data_dir, source, download, limit)
    return images.astype(np.float32) / np.float32(255.0), labels.astype(np.int64)

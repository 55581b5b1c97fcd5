"""Datasets in one line: `kq.data.load("cifar10", "train", 128, augment=True)`.

Images come scaled to [0, 1] with integer labels, from the original raw
files when they are in a data directory (offline), else from TensorFlow
Datasets. The readers of the raw formats are public for other pipelines.
"""

from keras_quadreg.data import cifar, idx, raw, svhn, tfds_source
from keras_quadreg.data.augmentation import random_crop_flip
from keras_quadreg.data.catalog import DATA_DIR_ENV, DatasetInfo, info, names
from keras_quadreg.data.epochs import EpochCounter
from keras_quadreg.data.pipeline import SOURCES, load, load_arrays

__all__ = [
    "DATA_DIR_ENV",
    "DatasetInfo",
    "EpochCounter",
    "SOURCES",
    "cifar",
    "idx",
    "info",
    "load",
    "load_arrays",
    "names",
    "random_crop_flip",
    "raw",
    "svhn",
    "tfds_source",
]

"""The library's names and defaults that the command line's flags offer.

Kept here, free of TensorFlow, so that building the parser (`quadreg
--help`) does not load the library; tests/cli/test_choices.py checks that
they are the library's. The registered components are read from the
library's source by `catalog`.
"""

from keras_quadreg.cli import catalog

# kq.data.names(), kq.data.DATA_DIR_ENV
DATASETS = ("mnist", "fashion_mnist", "cifar10", "svhn_cropped")
DATA_DIR_ENV = "KERAS_QUADREG_DATA"
# kq.attacks.names(), kq.explain.method_names(): read from where each is registered.
ATTACKS = catalog.names("attacks")
SALIENCY_METHODS = catalog.names("explain")
#: Any spelling of a saliency method (hyphen or underscore, alias) to its name.
saliency_method = catalog.resolver(
    {name: entry.aliases for name, entry in catalog.registered("explain").items()}
)
# kq.callbacks.checkpointing.KEEP
KEEP_CHECKPOINTS = ("best-last", "all")

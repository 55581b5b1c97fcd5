"""Regularizers and adversarial training objectives, behind one interface.

Each is a small module implementing `Regularizer.compute(step) -> Terms`
that registers its class where it defines it (`@kq.regularizers.register`,
with how `quadreg train` offers it); every module of this package is
imported here, and the regularizers it registers are exported by class name.
"""

from keras_quadreg import _registry
from keras_quadreg.regularizers import registry as _regularizer_registry
from keras_quadreg.regularizers.base import Regularizer, Terms, ThreatRegularizer
from keras_quadreg.regularizers.registry import deserialize, get, names, register, serialize

__all__ = [
    "Regularizer",
    "Terms",
    "ThreatRegularizer",
    "deserialize",
    "get",
    "names",
    "register",
    "serialize",
]
__all__ += _registry.export_registered(globals(), _regularizer_registry._REGULARIZERS)

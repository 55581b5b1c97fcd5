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

_registry.import_modules(__name__)
globals().update(_regularizer_registry.classes())

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
__all__ += sorted(_regularizer_registry.classes())

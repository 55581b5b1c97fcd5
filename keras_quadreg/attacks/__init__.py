"""Attacks for evaluating robustness, selectable by name or class.

APGD-CE, APGD-DLR, APGD-T, FAB-T and Square (`"apgd_ce"`, `"apgd_dlr"`,
`"apgd_t"`, `"fab_t"`, `"square"`) are native TensorFlow, and `"autoattack"`
runs them as the standard AutoAttack set (`"autoattack:version=rand"`: the
set for randomized defenses; `"autoattack:backend=art"`: the standard set
through the Adversarial Robustness Toolbox, the optional extra `autoattack`);
the other first-order attacks, SPSA and Carlini-Wagner L2 run CleverHans's
implementations (`cleverhans.tf2.attacks`; SPSA and CW through small
Keras-3 shims).

Each attack registers itself where it is defined (`@kq.attacks.register`);
every module of this package is imported here, and the attacks it registers
are exported by class name.
"""

from keras_quadreg import _registry
from keras_quadreg.attacks import registry as _attack_registry
from keras_quadreg.attacks._model import logits_function
from keras_quadreg.attacks.base import Attack, GraphAttack
from keras_quadreg.attacks.registry import deserialize, get, names, register, serialize

__all__ = [
    "Attack",
    "GraphAttack",
    "deserialize",
    "get",
    "logits_function",
    "names",
    "register",
    "serialize",
]
__all__ += _registry.export_registered(globals(), _attack_registry._ATTACKS)

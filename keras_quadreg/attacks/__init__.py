"""Attacks for evaluating robustness, selectable by name or class.

APGD-CE, APGD-DLR, APGD-T, FAB-T and Square (`"apgd_ce"`, `"apgd_dlr"`,
`"apgd_t"`, `"fab_t"`, `"square"`) are native TensorFlow, and `"autoattack"`
runs them as the standard AutoAttack set (`"autoattack:version=rand"`: the
set for randomized defenses; `"autoattack:backend=art"`: the standard set
through the Adversarial Robustness Toolbox, the optional extra `autoattack`);
the other first-order attacks, SPSA and Carlini-Wagner L2 run CleverHans's
implementations (`cleverhans.tf2.attacks`; SPSA and CW through small
Keras-3 shims).
"""

# Public submodules: their helpers are documented as `kq.attacks.apgd.*`, `kq.attacks.checks.*`,
# `kq.attacks.fab.*` and `kq.attacks.square.*`.
from keras_quadreg.attacks import apgd, checks, fab, square  # noqa: F401
from keras_quadreg.attacks._model import logits_function
from keras_quadreg.attacks.apgd import APGDCE, APGDDLR, APGDT
from keras_quadreg.attacks.autoattack import AutoAttack
from keras_quadreg.attacks.base import Attack, GraphAttack
from keras_quadreg.attacks.carlini_wagner import CarliniWagnerL2
from keras_quadreg.attacks.fab import FABT
from keras_quadreg.attacks.gradient import BIM, FGSM, MIM, PGD
from keras_quadreg.attacks.registry import deserialize, get, names, register, serialize
from keras_quadreg.attacks.spsa import SPSA
from keras_quadreg.attacks.square import Square

register("fgsm", "fgm")(FGSM)
register("bim")(BIM)
register("pgd")(PGD)
register("mim")(MIM)
register("cw", "carlini_wagner", "cw_l2")(CarliniWagnerL2)
register("spsa")(SPSA)
register("autoattack", "auto_attack")(AutoAttack)
register("apgd_ce")(APGDCE)
register("apgd_dlr")(APGDDLR)
register("apgd_t")(APGDT)
register("square")(Square)
register("fab_t")(FABT)

__all__ = [
    "APGDCE",
    "APGDDLR",
    "APGDT",
    "Attack",
    "AutoAttack",
    "BIM",
    "CarliniWagnerL2",
    "FABT",
    "FGSM",
    "GraphAttack",
    "MIM",
    "PGD",
    "SPSA",
    "Square",
    "deserialize",
    "get",
    "logits_function",
    "names",
    "register",
    "serialize",
]

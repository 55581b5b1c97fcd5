"""The command line's copies of the library's names and defaults are the library's."""

import inspect

import keras_quadreg as kq
from keras_quadreg.cli import choices


def test_the_names_are_the_librarys():
    assert tuple(kq.data.names()) == choices.DATASETS
    assert choices.DATA_DIR_ENV == kq.data.DATA_DIR_ENV
    assert tuple(kq.ops.STEP_RULES) == choices.STEP_RULES
    assert tuple(kq.ops.HVP_METHODS) == choices.HVP_METHODS
    assert tuple(kq.regularizers.quadratic.EXPANSION_POINTS) == choices.EXPANSION_POINTS
    assert tuple(kq.regularizers.quadratic.OBJECTIVES) == choices.OBJECTIVES
    assert tuple(kq.attacks.names()) == choices.ATTACKS
    assert tuple(kq.explain.method_names()) == choices.SALIENCY_METHODS
    assert choices.KEEP_CHECKPOINTS == kq.callbacks.checkpointing.KEEP


def test_the_quadreg_defaults_are_the_classs():
    signature = inspect.signature(kq.regularizers.QuadraticAdversarial).parameters
    assert {
        name: signature[name].default for name in choices.QUADREG_DEFAULTS
    } == choices.QUADREG_DEFAULTS

"""The command line's copies of the library's names and defaults are the library's."""

import inspect

import keras_quadreg as kq
from keras_quadreg.cli import choices


def test_the_names_are_the_librarys():
    assert choices.DATASETS == tuple(kq.data.names())
    assert choices.DATA_DIR_ENV == kq.data.DATA_DIR_ENV
    assert choices.STEP_RULES == tuple(kq.ops.STEP_RULES)
    assert choices.HVP_METHODS == tuple(kq.ops.HVP_METHODS)
    assert choices.EXPANSION_POINTS == tuple(kq.regularizers.quadratic.EXPANSION_POINTS)
    assert choices.OBJECTIVES == tuple(kq.regularizers.quadratic.OBJECTIVES)
    assert choices.ATTACKS == tuple(kq.attacks.names())
    assert choices.SALIENCY_METHODS == tuple(kq.explain.method_names())
    assert choices.KEEP_CHECKPOINTS == kq.callbacks.checkpointing.KEEP


def test_the_quadreg_defaults_are_the_classs():
    signature = inspect.signature(kq.regularizers.QuadraticAdversarial).parameters
    assert choices.QUADREG_DEFAULTS == {
        name: signature[name].default for name in choices.QUADREG_DEFAULTS
    }

"""The library's names and defaults that the command line's flags offer.

Kept here, free of TensorFlow, so that building the parser (`quadreg
--help`) does not load the library; tests/cli/test_choices.py checks that
they are the library's.
"""

# kq.data.names(), kq.data.DATA_DIR_ENV
DATASETS = ("mnist", "fashion_mnist", "cifar10", "svhn_cropped")
DATA_DIR_ENV = "KERAS_QUADREG_DATA"
# kq.ops.STEP_RULES, kq.ops.HVP_METHODS
STEP_RULES = ("frank_wolfe", "fixed_point", "line_search")
HVP_METHODS = ("reverse_over_reverse", "forward_over_reverse", "finite_difference", "secant")
# kq.regularizers.quadratic.EXPANSION_POINTS, .OBJECTIVES
EXPANSION_POINTS = ("input", "random")
OBJECTIVES = ("quadratic", "excess_loss", "adversarial")
# The defaults of kq.regularizers.QuadraticAdversarial that flags expose.
QUADREG_DEFAULTS = {
    "iterations": 2,
    "step_rule": "frank_wolfe",
    "hvp": "secant",
    "first_order_weight": 1.0,
    "second_order_weight": 1.0,
    "finite_difference_step": 0.001,
    "expansion_point": "random",
    "objective": "adversarial",
}
# kq.attacks.names(), kq.explain.method_names()
ATTACKS = (
    "apgd_ce",
    "apgd_dlr",
    "apgd_t",
    "autoattack",
    "bim",
    "cw",
    "fab_t",
    "fgsm",
    "mim",
    "pgd",
    "spsa",
    "square",
)
SALIENCY_METHODS = (
    "gradcam",
    "gradients_inputs",
    "integrated_gradients",
    "occlusion",
    "smoothgrad",
    "vanilla",
)
# kq.callbacks.checkpointing.KEEP
KEEP_CHECKPOINTS = ("best-last", "all")

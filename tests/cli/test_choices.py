"""The command line's copies of the library's names and defaults are the library's,
and what it reads from the source is what the registries hold."""

import inspect
import subprocess
import sys

import pytest

import keras_quadreg as kq
from keras_quadreg.cli import catalog, choices, training_methods
from keras_quadreg.cli import parse as parse_flags


def test_the_names_are_the_librarys():
    assert tuple(kq.data.names()) == choices.DATASETS
    assert choices.DATA_DIR_ENV == kq.data.DATA_DIR_ENV
    assert choices.KEEP_CHECKPOINTS == kq.callbacks.checkpointing.KEEP


@pytest.mark.parametrize(
    "package, registry",
    [
        ("attacks", kq.attacks.registry._ATTACKS),
        ("regularizers", kq.regularizers.registry._REGULARIZERS),
        ("explain", kq.explain.methods._METHODS),
    ],
)
def test_the_catalog_is_what_the_registries_hold(package, registry):
    read = catalog.registered(package)
    # What the library's modules register (tests may register more).
    library = [n for n in registry.names() if registry.class_of(n).__module__.startswith("keras_")]
    assert sorted(read) == library
    for name, entry in read.items():
        cls = registry.class_of(name)
        assert cls.__name__ == entry.aliases[0]
        assert all(registry.class_of(alias) is cls for alias in entry.aliases)
        assert getattr(cls, "command_line", None) == entry.command_line


def test_the_training_methods_are_the_regularizers_that_declare_a_command_line():
    declared = [
        c for c in kq.regularizers.registry.classes().values() if c.command_line is not None
    ]
    assert sorted(training_methods.METHODS) == sorted(
        ["standard", *(c.command_line["method"] for c in declared)]
    )


def _constructor_parameters(cls):
    """The keyword arguments `cls(...)` takes: its `__init__`'s, then, while
    one passes `**kwargs` on, its base classes' (a subclass's own win)."""
    parameters = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        own = inspect.signature(klass.__init__).parameters.values()
        named = {p.name: p for p in own if p.kind is not p.VAR_KEYWORD and p.name != "self"}
        parameters = {**named, **parameters}
        if all(p.kind is not p.VAR_KEYWORD for p in own):
            return parameters
    return parameters


def test_method_flag_defaults_are_the_constructors():
    flags = catalog.method_flags()
    for method in catalog.training_methods().values():
        cls = kq.regularizers.registry.classes()[method.aliases[1]]
        signature = _constructor_parameters(cls)
        for argument, option in method.arguments.items():
            assert argument in signature, (method.name, argument)
            if option in flags:
                assert flags[option][0]["default"] == signature[argument].default, (
                    method.name,
                    argument,
                )


def test_method_flag_choices_are_the_librarys():
    flags = catalog.method_flags()
    assert tuple(flags["step_rule"][0]["choices"]) == tuple(kq.ops.STEP_RULES)
    assert tuple(flags["hvp"][0]["choices"]) == tuple(kq.ops.HVP_METHODS)
    assert (
        tuple(flags["expansion_point"][0]["choices"]) == kq.regularizers.quadratic.EXPANSION_POINTS
    )
    assert tuple(flags["objective"][0]["choices"]) == kq.regularizers.quadratic.OBJECTIVES


def test_a_flag_several_methods_take_says_which():
    spec, users = catalog.method_flags()["attack_step_size"]
    assert users == ("fgsm-rs", "n-fgsm", "pgd", "trades")


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("gradient-norm", "gradient-norm"),
        ("gradient_norm", "gradient-norm"),
        ("fgsm_rs", "fgsm-rs"),
        ("fgsm-random-start", "fgsm-rs"),
        ("FGSMRandomStart", "fgsm-rs"),
        ("quadratic_adversarial", "quadreg"),
        ("standard", "standard"),
    ],
)
def test_methods_take_either_spelling(spelling, name):
    args = parse_flags(["train", "--method", spelling, "--out", "x"])
    assert args.method == name
    assert training_methods.parse_spec(f"{spelling}:weight=0.5") == (name, {"weight": 0.5})


def test_an_unknown_method_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_flags(["train", "--method", "gradient_nrm", "--out", "x"])
    assert "invalid choice: 'gradient_nrm'" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["integrated-gradients", "integrated_gradients", "grad-cam"])
def test_saliency_methods_take_either_spelling(spelling):
    args = parse_flags(["explain", "x", "--saliency", spelling])
    assert args.saliency == [kq.explain.get_method(spelling).name]


def test_a_declared_flag_builds_the_regularizer():
    args = parse_flags(
        [
            "train",
            "--method",
            "gradient_norm",
            "--gradient-norm",
            "inf",
            "--no-squared",
            "--out",
            "x",
        ]
    )
    regularizer = training_methods.build({**vars(args), "weight": 0.5})
    assert (regularizer.norm, regularizer.squared, regularizer.weight) == ("inf", False, 0.5)


def test_a_declared_flags_bounds_are_checked(capsys):
    with pytest.raises(SystemExit):
        parse_flags(["train", "--cure-h", "0", "--out", "x"])
    assert "Expected --cure-h to be a finite number > 0. Received: --cure-h=0.0" in (
        capsys.readouterr().err
    )


def test_a_flag_declared_twice_is_refused(monkeypatch):
    methods = catalog.training_methods()
    twice = dict(methods)
    twice["trades"] = methods["trades"].__class__(
        **{**vars(methods["trades"]), "flags": {"cure_h": {"default": 1.5, "help": "h"}}}
    )
    monkeypatch.setattr(catalog, "training_methods", lambda: twice)
    with pytest.raises(ValueError) as error:
        catalog.method_flags()
    assert str(error.value) == (
        "Expected each training-method flag to be declared once, by one regularizer. "
        "Received: 'cure_h' declared again by 'trades'"
    )


def test_the_catalog_reads_the_source_without_tensorflow():
    script = (
        "import sys, importlib.util\n"
        "spec = importlib.util.find_spec('keras_quadreg')\n"
        "sys.modules['keras_quadreg'] = importlib.util.module_from_spec(spec)\n"
        "from keras_quadreg.cli import catalog\n"
        "print(catalog.names('attacks'), 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{choices.ATTACKS} False\n"

"""The attacks, regularizers and saliency methods the library registers, read
from the `register(...)` decorators where each is defined.

The command line offers them without importing the library (and TensorFlow):
a decorator's arguments are literals, so the source says what it registers.
tests/cli/test_choices.py checks that this is what the registries hold.
"""

import ast
import dataclasses
import functools
import pathlib

_PACKAGE = pathlib.Path(__file__).resolve().parent.parent
# Options every training method may take besides the flags methods declare;
# the command line sets them (--epsilon, --norm, --seed and the [0, 1] box).
GENERAL_OPTIONS = ("epsilon", "norm", "seed", "clip_min", "clip_max")


@dataclasses.dataclass(frozen=True)
class Registered:
    """A registered class: its registered `name`, the other names it is
    selectable by (its class name first), and its `command_line`."""

    name: str
    aliases: tuple
    command_line: dict = None


def normalize(name):
    """How the registries compare names: case and `-`/`_` insensitive."""
    return name.strip().lower().replace("-", "_")


def _decorator_name(node):
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


@functools.cache
def registered(package):
    """`{name: Registered}` of what the modules of `keras_quadreg.<package>`
    register (`"attacks"`, `"regularizers"` or `"explain"`)."""
    found = {}
    for path in sorted((_PACKAGE / package).glob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if not isinstance(node, ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and _decorator_name(decorator.func) == "register"
                ):
                    name, *aliases = map(ast.literal_eval, decorator.args)
                    options = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
                    found[name] = Registered(name, (node.name, *aliases), **options)
    return found


def names(package):
    """The registered names of a package, sorted."""
    return tuple(sorted(registered(package)))


def resolver(canonical, extra=()):
    """A function from any spelling of a name to its canonical spelling.

    Args:
        canonical: `{canonical name: other names it goes by}`.
        extra: More canonical names, without other names.

    Returns:
        A function that returns a name's canonical spelling (case and
        `-`/`_` insensitive), or the name unchanged if it is unknown (for
        argparse's `choices` to reject).
    """
    table = {normalize(name): name for name in extra}
    for name, others in canonical.items():
        for other in (name, *others):
            table[normalize(other)] = name
    return lambda text: table.get(normalize(text), text)


@dataclasses.dataclass(frozen=True)
class TrainingMethod:
    """A regularizer the command line trains with: `--method name`."""

    name: str
    help: str
    registered: str  # the regularizer's registered name
    aliases: tuple  # the regularizer's other names
    arguments: dict  # constructor argument -> option
    flags: dict  # dest -> flag description


def training_methods():
    """The `TrainingMethod`s of the registered regularizers that declare a
    `command_line`, by method name, sorted."""
    methods = {}
    for entry in registered("regularizers").values():
        if entry.command_line is not None:
            line = entry.command_line
            methods[line["method"]] = TrainingMethod(
                line["method"],
                line["help"],
                entry.name,
                (entry.name, *entry.aliases),
                line["arguments"],
                line.get("flags", {}),
            )
    return dict(sorted(methods.items()))


def method_flags():
    """`{dest: (description, methods using it)}` of the training methods'
    flags, once checked to be declared once and used as declared."""
    methods = training_methods()
    flags = {}
    for method in methods.values():
        for dest, spec in method.flags.items():
            if dest in flags or dest in GENERAL_OPTIONS:
                raise ValueError(
                    f"Expected each training-method flag to be declared once, by one "
                    f"regularizer. Received: {dest!r} declared again by {method.registered!r}"
                )
            flags[dest] = spec
    users = {dest: [] for dest in flags}
    for method in methods.values():
        for option in method.arguments.values():
            if option not in flags and option not in GENERAL_OPTIONS:
                raise ValueError(
                    f"Expected the options of {method.registered!r} to be flags some "
                    f"regularizer declares or one of {list(GENERAL_OPTIONS)}. "
                    f"Received: {option!r}"
                )
            if option in users:
                users[option].append(method.name)
    return {dest: (spec, tuple(users[dest])) for dest, spec in flags.items()}

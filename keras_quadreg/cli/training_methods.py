"""The training methods the command line knows (`train --method`, `compare
--methods`): plain training, and every registered regularizer that declares
a `command_line` (see `kq.regularizers.register`). The saliency methods of
`--saliency` are `kq.explain`'s."""

import keras_quadreg as kq
from keras_quadreg.cli import catalog, specs

STANDARD = catalog.TrainingMethod(
    "standard", "plain training, no regularizer", None, (), arguments={}, flags={}
)
METHODS = {"standard": STANDARD, **catalog.training_methods()}
#: Any spelling of a method (its name, hyphen or underscore, or its
#: regularizer's names) to its name.
canonical = catalog.resolver({name: method.aliases for name, method in METHODS.items()})


def build(options):
    """The regularizer (None for `standard`) of a run's resolved options."""
    method = METHODS[options["method"]]
    if method.registered is None:
        return None
    arguments = {argument: options[option] for argument, option in method.arguments.items()}
    return kq.regularizers.get(method.registered, **arguments)


def parse_spec(spec):
    """`"quadreg:iterations=3,hvp=forward_over_reverse"` -> `("quadreg", {...})`;
    any spelling of a method gives its name."""
    name, options = specs.parse(spec)
    if canonical(name) not in METHODS:
        raise ValueError(
            f"Unknown method. Expected one of {list(METHODS)}. Received: method={name!r}"
        )
    return canonical(name), options

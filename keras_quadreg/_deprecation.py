"""Old public names that keep working for one release, with a `DeprecationWarning`."""

import importlib
import warnings


def warn(old, new):
    warnings.warn(
        f"`{old}` is deprecated and will be removed in the next release; use `{new}`.",
        DeprecationWarning,
        stacklevel=3,
    )


def moved_attributes(module, moved):
    """A module `__getattr__` serving the attributes that moved.

    Args:
        module: The module's name.
        moved: `{old attribute: "new.module.attribute"}`.
    """

    def __getattr__(name):
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, attribute = moved[name].rpartition(".")
        warn(f"{module}.{name}", moved[name])
        return getattr(importlib.import_module(new_module), attribute)

    return __getattr__

"""Selecting regularizers by object, class, name or config, and serializing them."""

from keras_quadreg import _registry
from keras_quadreg.regularizers.base import Regularizer

_REGULARIZERS = _registry.Registry(
    "regularizer", Regularizer, "kq.regularizers.Regularizer", allow_none=True
)
names = _REGULARIZERS.names
classes = _REGULARIZERS.classes
serialize = _REGULARIZERS.serialize
deserialize = _REGULARIZERS.deserialize


def register(name, *aliases, command_line=None):
    """Class decorator making a `Regularizer` selectable by `name` and `aliases`.

    Also registers it with Keras serialization, so models using it save and
    load with `model.save` / `keras.models.load_model`.

    Example:

    ```python
    @kq.regularizers.register("my_penalty")
    class MyPenalty(kq.regularizers.Regularizer):
        def compute(self, step): ...
    ```

    Args:
        name: The registered name.
        *aliases: Other names it is selectable by.
        command_line: How `quadreg train --method` offers it, or None (not
            offered): a dict literal (the command line reads it from the
            source, without importing TensorFlow) with keys `"method"` (the
            method's name), `"help"`, `"arguments"` (constructor argument ->
            option: a flag's `dest`, or one of `epsilon`, `norm`, `seed`,
            `clip_min`, `clip_max`) and `"flags"` (`dest` -> `{"default",
            "help"}` and optionally `"choices"`, `"type"` (`"int"` or
            `"float"`, for a None default) and `"bounds"` (`"positive"`,
            `"non_negative"`, `"integer>=0"` or `"integer>=1"`)). The flags
            of several methods may share a `dest` if they declare it alike.
            Saved as the class's `command_line`.
    """
    return _REGULARIZERS.register(name, *aliases, attributes={"command_line": command_line})


def get(identifier, **kwargs):
    """Resolves a regularizer from an object, a class, a name or a serialized config.

    Example:

    ```python
    kq.regularizers.get("quadratic_adversarial", epsilon=0.3)
    kq.regularizers.get({"class_name": "CURE", "config": {"weight": 4.0, "h": 1.5}})
    ```

    Args:
        identifier: A `Regularizer`, a `Regularizer` subclass, a registered
            name (or class name, case and `-`/`_` insensitive), a dict from
            `serialize`, or None.
        **kwargs: Constructor arguments for a name or a class.

    Returns:
        A `Regularizer`, or None for None.
    """
    return _REGULARIZERS.get(identifier, **kwargs)

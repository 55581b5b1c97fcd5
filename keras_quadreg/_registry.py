"""One registry for what keras_quadreg selects by name: attacks,
regularizers and saliency methods.

A registered class is selectable by its name, its class name and its
aliases (case and `-`/`_` insensitive), carries its name as
`registered_name`, and, when the registry is serializable, saves and loads
through Keras serialization.
"""

import importlib
import pkgutil
import re

import keras


def snake_case(name):
    """`"PGDAdversarialTraining"` -> `"pgd_adversarial_training"`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def check_name(name):
    """Returns an optional `name` after checking it is a non-empty string."""
    if name is not None and not (isinstance(name, str) and name):
        raise ValueError(f"Expected `name` to be a non-empty string. Received: name={name!r}")
    return name


def import_modules(package):
    """Imports every module of the package named `package`, so that the
    classes they register at their definition are registered."""
    path = importlib.import_module(package).__path__
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")


def export_registered(namespace, registry):
    """Imports every module of the package whose `__init__` has the globals
    `namespace` (its modules register their classes where they define them)
    and exports the classes of `registry` there by class name.

    Returns:
        The exported names, sorted, for `__all__`.
    """
    import_modules(namespace["__name__"])
    classes = registry.classes()
    namespace.update(classes)
    return sorted(classes)


def _normalize(name):
    return name.strip().lower().replace("-", "_")


def _article(word):
    return "an" if word[0].lower() in "aeiou" else "a"


class Registry:
    """Classes of one kind (subclasses of `base`) by name.

    Args:
        kind: What the classes are, in messages and as the argument name
            (`"attack"`).
        base: The base class every registered class derives from.
        base_path: How users spell `base` (`"kq.attacks.Attack"`).
        serializable: Whether registered classes are also registered with
            Keras serialization, and configs (dicts) resolve.
        allow_none: Whether `get(None)` returns None (no object).
    """

    def __init__(self, kind, base, base_path, *, serializable=True, allow_none=False):
        self.kind = kind
        self.base = base
        self.base_path = base_path
        self.serializable = serializable
        self.allow_none = allow_none
        self._classes = {}
        self._aliases = {}

    def register(self, name, *aliases, attributes=None):
        """A class decorator making a class selectable by `name` and
        `aliases`, and setting its class `attributes` (a dict)."""

        def decorator(cls):
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise ValueError(f"Expected a subclass of {self.base_path}. Received: cls={cls!r}")
            cls.registered_name = name
            for attribute, value in (attributes or {}).items():
                setattr(cls, attribute, value)
            self._classes[name] = cls
            for alias in (name, cls.__name__, *aliases):
                self._aliases[_normalize(alias)] = name
            if self.serializable:
                return keras.saving.register_keras_serializable("keras_quadreg", cls.__name__)(cls)
            return cls

        return decorator

    def names(self):
        """The registered names, sorted."""
        return sorted(self._classes)

    def classes(self):
        """The registered classes by class name."""
        return {cls.__name__: cls for cls in self._classes.values()}

    def class_of(self, name):
        """The class registered under any spelling of `name`, or None."""
        key = self._aliases.get(_normalize(name))
        return None if key is None else self._classes[key]

    def get(self, identifier, **kwargs):
        """Resolves an object from an instance, a class, a name or a config;
        `kwargs` build a class or a name."""
        if isinstance(identifier, self.base) or (identifier is None and self.allow_none):
            if kwargs:
                raise ValueError(
                    f"Constructor arguments go with {_article(self.kind)} {self.kind} name "
                    f"or class. Received: identifier={identifier!r}, kwargs={kwargs!r}"
                )
            return identifier
        if isinstance(identifier, dict) and self.serializable:
            return self.deserialize(identifier)
        if isinstance(identifier, str):
            cls = self.class_of(identifier)
            if cls is None:
                raise ValueError(
                    f"Unknown {self.kind}. Expected one of {self.names()}. "
                    f"Received: {self.kind}={identifier!r}"
                )
            identifier = cls
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            try:
                return identifier(**kwargs)
            except TypeError as e:
                raise ValueError(
                    f"Could not build {identifier.__name__}: {e}. Received: kwargs={kwargs!r}"
                ) from None
        base = self.base.__name__
        expected = [f"{_article(base)} {base}", f"{_article(base)} {base} subclass"]
        expected.append(f"{_article(self.kind)} {self.kind} name")
        if self.serializable:
            expected.append("a serialized config")
        raise ValueError(
            f"Expected {', '.join(expected[:-1])} or {expected[-1]}. "
            f"Received: {self.kind}={identifier!r}"
        )

    def serialize(self, obj):
        """Serializes an object (or None, where allowed) to plain Python values."""
        if obj is None and self.allow_none:
            return None
        return keras.saving.serialize_keras_object(self.get(obj))

    def deserialize(self, config):
        """Inverse of `serialize`."""
        if config is None and self.allow_none:
            return None
        custom = {cls.__name__: cls for cls in self._classes.values()}
        obj = keras.saving.deserialize_keras_object(config, custom_objects=custom)
        if not isinstance(obj, self.base):
            base = self.base.__name__
            raise ValueError(
                f"Expected the config of {_article(base)} {base}. Received: config={config!r}"
            )
        return obj

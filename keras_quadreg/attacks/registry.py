"""Selecting attacks by object, class, name or config."""

from keras_quadreg import _registry
from keras_quadreg.attacks.base import Attack

_ATTACKS = _registry.Registry("attack", Attack, "kq.attacks.Attack")
names = _ATTACKS.names
classes = _ATTACKS.classes
serialize = _ATTACKS.serialize
deserialize = _ATTACKS.deserialize


def register(name, *aliases):
    """Class decorator making an `Attack` selectable by `name` and `aliases`.

    Example:

    ```python
    @kq.attacks.register("my_attack")
    class MyAttack(kq.attacks.GraphAttack):
        def perturb(self, model_fn, x, y, threat_model): ...
    ```
    """
    return _ATTACKS.register(name, *aliases)


def get(identifier, **kwargs):
    """Resolves an attack from an object, a class, a name or a config.

    Example:

    ```python
    kq.attacks.get("pgd", steps=100, restarts=5)
    kq.attacks.get(kq.attacks.SPSA)
    ```

    Args:
        identifier: An `Attack`, an `Attack` subclass, a registered name
            (or class name; case and `-`/`_` insensitive) or a dict from
            `serialize`.
        **kwargs: Constructor arguments for a name or a class.

    Returns:
        An `Attack`.
    """
    return _ATTACKS.get(identifier, **kwargs)

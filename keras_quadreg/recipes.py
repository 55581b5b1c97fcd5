"""Named training recipes: the published settings of each method, in one table.

A recipe is a set of training options, named as `quadreg train`'s flags
(in snake case) and a run's `config.json`: architecture, epochs, batch size,
optimizer, learning-rate schedule, epsilon ramp, method options and
checkpoint selection. `quadreg train --recipe NAME` and `quadreg compare
--recipe NAME` start from them; flags given explicitly override them.

Example:

```python
recipe = kq.recipes.get("wong2020_mnist")
recipe.options["lr_schedule"]  # "cyclic"
```
"""

import dataclasses
import types
import typing


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named set of training options and where they come from.

    Attributes:
        name: Name for `get` and `--recipe`.
        source: The publication (and code) the values are taken from.
        summary: One line on what the recipe is for.
        options: Option values by name (`quadreg train`'s flags in snake
            case), read-only.
    """

    name: str
    source: str
    summary: str
    options: typing.Mapping[str, typing.Any]

    def __post_init__(self):
        object.__setattr__(self, "options", types.MappingProxyType(dict(self.options)))


_RECIPES = (
    Recipe(
        "wong2020_mnist",
        "Wong, Rice & Kolter 2020, 'Fast is better than free', MNIST/train_mnist.py of "
        "locuslab/fast_adversarial",
        "FGSM with random start on MNIST at epsilon 0.3: their network, 10 epochs, batch 100, "
        "Adam on a triangular cycle peaking at 5e-3 after 4 epochs, step 1.25 epsilon from "
        "uniform noise not clipped to the image box, no ramp",
        {
            "method": "fgsm-rs",
            "clip_start": False,
            "arch": "wong_cnn",
            "epochs": 10,
            "batch_size": 100,
            "optimizer": "adam",
            "lr": 5e-3,
            "lr_schedule": "cyclic",
            "lr_peak_fraction": 0.4,
            "weight_decay": 0.0,
            "ramp_epochs": 0,
        },
    ),
    Recipe(
        "madry2018_mnist",
        "Madry et al. 2018, 'Towards deep learning models resistant to adversarial attacks', "
        "config.json of MadryLab/mnist_challenge",
        "PGD adversarial training on MNIST at epsilon 0.3: their network, 40 steps of 0.01 "
        "from a random start, 100,000 steps of batch 50 (83 epochs), Adam at 1e-4",
        {
            "method": "pgd",
            "arch": "madry_cnn",
            "epochs": 83,
            "batch_size": 50,
            "optimizer": "adam",
            "lr": 1e-4,
            "lr_schedule": "constant",
            "weight_decay": 0.0,
            "attack_steps": 40,
            "attack_step_size": 0.01,
            "random_start": True,
            "ramp_epochs": 0,
        },
    ),
    Recipe(
        "zhang2019_trades_mnist",
        "Zhang et al. 2019, 'Theoretically principled trade-off between robustness and "
        "accuracy', train_trades_mnist.py of yaodongyu/TRADES",
        "TRADES on MNIST at epsilon 0.3: 40 steps of 0.01, 100 epochs of batch 128, SGD with "
        "momentum 0.9 at 0.01, divided by 10 from the 55th, 75th and 90th epochs; beta 6, the "
        "paper's MNIST value (the script's default is 1); madry_cnn for their SmallCNN",
        {
            "method": "trades",
            "arch": "madry_cnn",
            "epochs": 100,
            "batch_size": 128,
            "optimizer": "sgd",
            "lr": 0.01,
            "lr_schedule": "piecewise",
            "lr_milestones": [54, 74, 89],
            "lr_decay": 0.1,
            "weight_decay": 0.0,
            "attack_steps": 40,
            "attack_step_size": 0.01,
            "beta": 6.0,
            "ramp_epochs": 0,
        },
    ),
    Recipe(
        "rice2020_early_stopping",
        "Rice, Wong & Kolter 2020, 'Overfitting in adversarially robust deep learning'",
        "Any method with the checkpoint of highest robust accuracy (PGD-10) on the last 1,000 "
        "training images, which it does not train on",
        {"holdout": 1000, "select_attack": "pgd:steps=10"},
    ),
)

RECIPES = types.MappingProxyType({r.name: r for r in _RECIPES})


def names():
    """The names of the recipes."""
    return list(RECIPES)


def get(name):
    """The `Recipe` called `name`.

    Example:

    ```python
    kq.recipes.get("wong2020_mnist").options["epochs"]  # 10
    ```

    Raises:
        ValueError: For an unknown name.
    """
    if not isinstance(name, str) or name not in RECIPES:
        raise ValueError(f"Unknown recipe. Expected one of {names()}. Received: name={name!r}")
    return RECIPES[name]

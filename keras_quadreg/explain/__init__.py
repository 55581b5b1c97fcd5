"""Interpretability: saliency maps, robust-feature explanations, metrics, figures.

The module is callable: `kq.explain(model, images, ...)` is
`kq.explain.explain(model, images, ...)`, and the rest of the API is its
attributes (`kq.explain.counterfactuals`, `kq.explain.compare`, ...).

Example:

```python
exp = kq.explain(
    model, images, methods=["vanilla", "smoothgrad", "integrated_gradients", "gradcam"], seed=0
)
exp.save("explanations.png")
cf = kq.explain.counterfactuals(model, images, target_classes="all")   # radius searched
kq.explain.compare_counterfactuals({"standard": m0, "quadreg": m1}, images).save("cf.png")
table = kq.explain.interpretability_scores(model, (x_test, y_test), reference_model=standard_model)
kq.explain.compare({"standard": m0, "quadreg": m1}, images).save("compare.png")
```
"""

import sys
import types

from keras_quadreg import _registry
from keras_quadreg.explain import callbacks, metrics
from keras_quadreg.explain import methods as _methods
from keras_quadreg.explain.callbacks import SaliencyCallback
from keras_quadreg.explain.explanation import Comparison, Explanation, compare, explain
from keras_quadreg.explain.methods import SaliencyMethod, register, saliency
from keras_quadreg.explain.methods import get as get_method
from keras_quadreg.explain.methods import names as method_names
from keras_quadreg.explain.robust_features import (
    ClassVisualizations,
    CounterfactualComparison,
    Counterfactuals,
    class_visualizations,
    compare_counterfactuals,
    counterfactuals,
)
from keras_quadreg.explain.scores import ScoreTable, interpretability_scores

__all__ = [
    "ClassVisualizations",
    "Comparison",
    "CounterfactualComparison",
    "Counterfactuals",
    "Explanation",
    "SaliencyCallback",
    "SaliencyMethod",
    "ScoreTable",
    "callbacks",
    "class_visualizations",
    "compare",
    "compare_counterfactuals",
    "counterfactuals",
    "explain",
    "get_method",
    "interpretability_scores",
    "method_names",
    "metrics",
    "register",
    "saliency",
]
__all__ += _registry.export_registered(globals(), _methods._METHODS)


class _CallableModule(types.ModuleType):
    """A module whose call is `explain` (Python's documented way to customize
    a module: assigning a `ModuleType` subclass to its `__class__`)."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""`explain` one model and `compare` several: maps, counterfactuals, figures."""

import dataclasses

import numpy as np

from keras_quadreg import _validation
from keras_quadreg.explain import _classifier, _plotting, robust_features
from keras_quadreg.explain import methods as methods_lib


@dataclasses.dataclass(frozen=True, eq=False)
class Explanation(_plotting.Plottable):
    """Saliency maps and counterfactuals of a batch of images, for one model.

    Attributes:
        images: The images, `(n, height, width, channels)`.
        classes: The class each map explains, `(n,)`.
        predictions: The model's class per image, `(n,)`.
        probabilities: The model's class probabilities, `(n, classes)`.
        saliency: Method name -> signed maps `(n, height, width)`.
        counterfactuals: A `Counterfactuals`, or None.
        value_range: The valid input range.
        model_name: The model's name.
    """

    images: np.ndarray
    classes: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray
    saliency: dict
    counterfactuals: object
    value_range: tuple
    model_name: str

    def _prediction_title(self, i):
        predicted = self.predictions[i]
        title = f"pred {predicted}: {self.probabilities[i, predicted]:.2f}"
        if self.classes[i] != predicted:
            title += f"\nexplains {self.classes[i]}"
        return title

    def _model_cells(self, i):
        """The maps and counterfactuals of image `i`, with their column names."""
        cells, names = [], []
        for name, maps in self.saliency.items():
            cells.append(_plotting.map_cell(maps[i]))
            names.append(name)
        if self.counterfactuals is not None:
            cf = self.counterfactuals
            for j in range(cf.targets.shape[1]):
                cells.append(
                    _plotting.image_cell(cf.images[i, j], self.value_range, cf.cell_title(i, j))
                )
                names.append("counterfactual")
        return cells, names

    def plot(self, max_images=16):
        """Rows = images; columns = the image with the prediction, each
        saliency map (red supports the class, blue opposes it), and the
        counterfactuals.

        Args:
            max_images: Rows shown, from the first image.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        max_images = _validation.integer("max_images", max_images, minimum=1)
        rows, names = [], []
        for i in range(min(len(self.images), max_images)):
            cells, names = self._model_cells(i)
            image = _plotting.image_cell(
                self.images[i], self.value_range, self._prediction_title(i)
            )
            rows.append([image, *cells])
        return _plotting.render(
            rows, column_titles=["input", *names], title=self._title(), caption=self._caption()
        )

    def _title(self):
        kinds = "saliency maps" if self.saliency else ""
        if self.counterfactuals is not None:
            kinds += (" and " if kinds else "") + "counterfactuals"
        return f"{self.model_name}: {kinds or 'predictions'}"

    def _caption(self):
        """What the cells' labels and colours mean."""
        parts = ["'pred c: p': the model's class c and its probability p."]
        if np.any(self.classes != self.predictions):
            parts.append("'explains k': that row's maps are of class k, not of the prediction.")
        if self.saliency:
            parts.append("Maps: red pixels raise the explained class's score, blue ones lower it.")
        if self.counterfactuals is not None:
            parts.append(self.counterfactuals.caption())
        return " ".join(parts)


def _explain(
    classifier,
    name,
    images,
    methods,
    *,
    probabilities,
    classes,
    counterfactuals,
    attack,
    value_range,
    batch_size,
    seed,
):
    predictions = probabilities.argmax(axis=1)
    targets = predictions.astype(np.int64) if classes is None else classes
    common = dict(value_range=value_range, batch_size=batch_size, seed=seed)
    maps = {m.name: methods_lib.compute(classifier, m, images, targets, **common) for m in methods}
    found = None
    if counterfactuals is not None:
        attack, search = attack
        found = robust_features.compute_counterfactuals(
            classifier,
            images,
            robust_features.resolve_targets(counterfactuals, probabilities),
            attack=attack,
            search=search,
            value_range=value_range,
            batch_size=batch_size,
        )
    return Explanation(
        images=images,
        classes=targets,
        predictions=predictions,
        probabilities=probabilities,
        saliency=maps,
        counterfactuals=found,
        value_range=value_range,
        model_name=name,
    )


def _check_options(classifier, images, classes, counterfactuals):
    """Checks `classes` and `counterfactuals` before any computation."""
    count, num_classes = len(images), classifier.num_classes
    if classes is not None:
        classes = _classifier.check_classes(classes, count, num_classes)
    if counterfactuals is not None:
        counterfactuals = robust_features.check_target_classes(
            counterfactuals, count, num_classes, name="counterfactuals"
        )
    return classes, counterfactuals


def _explain_each(
    classifiers,
    images,
    methods,
    *,
    classes,
    counterfactuals,
    value_range,
    batch_size,
    seed,
    **counterfactual_options,
):
    """`{name: Explanation}` of each of `classifiers` (by name), every
    argument checked, and every model's outputs, before any is explained."""
    methods = _check_methods(methods)
    value_range = _classifier.check_value_range(value_range)
    images = _classifier.check_images_for_all(images, classifiers, value_range)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    seed = _validation.integer("seed", seed)
    attack = robust_features.counterfactual_settings(value_range, seed, counterfactual_options)
    first = next(iter(classifiers.values()))
    classes, counterfactuals = _check_options(first, images, classes, counterfactuals)
    probabilities = {name: c.probabilities(images, batch_size) for name, c in classifiers.items()}
    shared = dict(classes=classes, counterfactuals=counterfactuals, attack=attack)
    shared.update(value_range=value_range, batch_size=batch_size, seed=seed)
    return {
        name: _explain(c, name, images, methods, probabilities=probabilities[name], **shared)
        for name, c in classifiers.items()
    }


def _check_methods(methods):
    if isinstance(methods, (str, methods_lib.SaliencyMethod)):
        methods = [methods]
    methods = [methods_lib.get(m) for m in methods]
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"Expected each method once. Received: methods={names}")
    return methods


def explain(
    model,
    images,
    methods=methods_lib.DEFAULT_METHODS,
    *,
    classes=None,
    counterfactuals="runner_up",
    value_range=(0.0, 1.0),
    batch_size=32,
    seed=0,
    **counterfactual_options,
):
    """Saliency maps and counterfactuals of a batch of images.

    `kq.explain(...)` is this function: the `keras_quadreg.explain` module is
    callable.

    Example:

    ```python
    exp = kq.explain(model, x_test[:8], methods=["vanilla", "smoothgrad",
                     "integrated_gradients", "gradcam"], seed=0)
    exp.saliency["vanilla"].shape      # (8, 28, 28)
    exp.plot()                          # a matplotlib Figure
    exp.save("explanations.png")
    ```

    Args:
        model: A functional or Sequential Keras classifier (logits or
            softmax outputs) with one image input.
        images: Images `(n, height, width, channels)` in `value_range`.
        methods: Saliency methods: names from `kq.explain.method_names()` or
            `SaliencyMethod` objects.
        classes: Class each map explains: None (the prediction), an int, or
            one int per image.
        counterfactuals: Targets of the counterfactuals (see
            `kq.explain.counterfactuals`), e.g. `"runner_up"` or `"all"`; None
            for none.
        value_range: `(low, high)`, the model's valid input range.
        batch_size: Images processed together.
        seed: Integer seed of the random methods (SmoothGrad) and of the
            search's gradient noise.
        **counterfactual_options: `epsilon`, `norm`, `max_epsilon`,
            `probability`, `steps`, `search_steps` and `gradient_noise`, as
            for `kq.explain.counterfactuals` (by default each counterfactual
            searches the smallest radius at which its target reaches
            `probability`); another name is a `TypeError`.

    Returns:
        An `Explanation`.
    """
    return _classifier.for_model(
        model,
        _explain_each,
        images,
        methods,
        classes=classes,
        counterfactuals=counterfactuals,
        value_range=value_range,
        batch_size=batch_size,
        seed=seed,
        **counterfactual_options,
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Comparison(_plotting.Plottable):
    """Explanations of the same images by several models.

    Attributes:
        explanations: Model name -> `Explanation`, in the order given.
    """

    explanations: dict

    def plot(self, max_images=16):
        """Rows = images; columns = the image, then model x method (and the
        models' counterfactuals).

        Args:
            max_images: Rows shown, from the first image.

        Returns:
            A `matplotlib.figure.Figure`.
        """
        max_images = _validation.integer("max_images", max_images, minimum=1)
        first = next(iter(self.explanations.values()))
        rows, titles = [], []
        for i in range(min(len(first.images), max_images)):
            row, titles = [_plotting.image_cell(first.images[i], first.value_range)], ["input"]
            for model_name, explanation in self.explanations.items():
                cells, names = explanation._model_cells(i)
                if cells:
                    prediction = explanation._prediction_title(i)
                    cells[0]["title"] = f"{prediction}\n{cells[0]['title']}".strip()
                row.extend(cells)
                titles.extend(f"{model_name}\n{name}" for name in names)
            rows.append(row)
        return _plotting.render(rows, column_titles=titles)


def compare(models, images, methods=methods_lib.DEFAULT_METHODS, **kwargs):
    """Explains the same images with several models, side by side.

    With `classes=None` each model explains its own prediction; pass the
    labels to have every model explain the same class.

    Example:

    ```python
    kq.explain.compare({"standard": m0, "quadreg": m1}, x_test[:6],
                       classes=y_test[:6]).save("compare.png")
    ```

    Args:
        models: A dict of name -> Keras classifier.
        images, methods: As for `kq.explain`.
        **kwargs: Keyword arguments of `kq.explain`, with its defaults.

    Returns:
        A `Comparison`.
    """
    views = _classifier.explainer_views(models)
    explanations = _explain_each(views, images, methods, **{**explain.__kwdefaults__, **kwargs})
    return Comparison(explanations)

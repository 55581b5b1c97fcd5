"""`interpretability_scores`: the metrics of several models as one table."""

import keras
import numpy as np

from keras_quadreg import _collect, _validation
from keras_quadreg.explain import _classifier, metrics, robust_features
from keras_quadreg.explain import methods as methods_lib

COLUMNS = (
    "model",
    "accuracy",
    "explanation",
    "deletion_auc",
    "insertion_auc",
    "foreground_fraction",
    "counterfactual_success",
    "counterfactual_transfer",
    "counterfactual_median_radius",
)

# Which way each score is better, and what it measures, for readers of a table.
COLUMN_NOTES = {
    "accuracy": "higher is better: the model's accuracy on the scored images",
    "deletion_auc": "lower is better: the class score falls fast as the most salient pixels "
    "are removed",
    "insertion_auc": "higher is better: the class score rises fast as the most salient pixels "
    "are restored",
    "foreground_fraction": "higher is better: the share of saliency on the object rather than "
    "the background",
    "counterfactual_success": "the share of counterfactuals that reached their target (with a "
    "searched radius: the target's probability reached the threshold within the cap)",
    "counterfactual_transfer": "higher is better: the share of successful counterfactuals that an "
    "independently trained model also classifies as the target",
    "counterfactual_median_radius": "the median radius the counterfactuals needed to reach their "
    "target, the ones out of reach counted as beyond the cap: how much an image must change to "
    "become another class (larger: the model resists small changes)",
}


class ScoreTable:
    """Rows of metrics, one per (model, explanation), with `None` where a
    metric does not apply.

    Example:

    ```python
    print(table)                      # a Markdown table
    table.rows[0]["insertion_auc"]
    table.column("foreground_fraction")
    ```

    Attributes:
        columns: Column names, in order.
        rows: One dict per row.
    """

    def __init__(self, columns, rows):
        self.columns = tuple(columns)
        self.rows = []
        for row in rows:
            unknown = sorted(set(row) - set(self.columns))
            if unknown:
                raise ValueError(
                    f"Expected row keys among {list(self.columns)}. Received: {unknown}"
                )
            self.rows.append({name: row.get(name) for name in self.columns})

    def column(self, name):
        """The values of one column, in row order."""
        _validation.choice("name", name, self.columns)
        return [row[name] for row in self.rows]

    def to_markdown(self, precision=3):
        """A Markdown table; numbers rounded to `precision` decimals."""

        def cell(value):
            if value is None:
                return ""
            if isinstance(value, float):
                return f"{value:.{precision}f}"
            return str(value)

        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(row[c]) for c in self.columns) + " |" for row in self.rows]
        return "\n".join(lines)

    def legend(self):
        """What each score column means, which way is better, and what a
        blank cell means, as a Markdown list.

        Returns:
            A string; empty when no column has a note and no cell is blank.
        """
        lines = [f"- `{c}`: {COLUMN_NOTES[c]}." for c in self.columns if c in COLUMN_NOTES]
        if any(value is None for row in self.rows for value in row.values()):
            lines.append(
                "- A blank cell: the score does not apply to the row (saliency rows have no "
                "counterfactual scores, the counterfactual row no saliency scores), or was not "
                "measured (`counterfactual_transfer` needs a reference model and at least one "
                "successful counterfactual; `counterfactual_median_radius` a searched radius and "
                "fewer than half the targets out of reach within the cap)."
            )
        return "\n".join(lines)

    def __len__(self):
        return len(self.rows)

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        return f"ScoreTable(columns={self.columns}, rows={len(self.rows)})"


def counterfactual_label(counterfactuals):
    """The `explanation` cell of a counterfactual row: norm, and radius or search."""
    norm = "Linf" if counterfactuals.norm == "inf" else "L2"
    if counterfactuals.searched:
        return (
            f"counterfactual ({norm}, p>={counterfactuals.probability:g}, "
            f"eps<={counterfactuals.epsilon:g})"
        )
    return f"counterfactual ({norm}, eps={counterfactuals.epsilon:g})"


def interpretability_scores(
    models,
    data,
    *,
    reference_model=None,
    methods=methods_lib.DEFAULT_METHODS,
    value_range=(0.0, 1.0),
    foreground_threshold=0.1,
    deletion_steps=16,
    counterfactual_epsilon=robust_features.SEARCH,
    counterfactual_norm=2,
    counterfactual_max_epsilon=None,
    counterfactual_probability=0.5,
    counterfactual_steps=20,
    counterfactual_search_steps=4,
    counterfactual_gradient_noise=robust_features.DEFAULT_GRADIENT_NOISE,
    max_examples=512,
    batch_size=64,
    seed=0,
):
    """Interpretability metrics of one or several models, as a table.

    For each model and saliency method, maps of each image's true class give
    the mean deletion and insertion AUCs and the mean share of saliency on
    the object (`foreground_fraction`). Then each image is pushed toward
    every other class (`kq.explain.counterfactuals`; by default each finds
    the smallest radius at which the target reaches
    `counterfactual_probability`, so that robust and standard models are
    compared at the change each needs): the table reports the share that
    reached the target (`counterfactual_success`), the median radius they
    needed (`counterfactual_median_radius`, targets out of reach counted as
    beyond the cap; None for a fixed radius or when half or more are out of
    reach) and, with a `reference_model`, the share of the successful ones
    the reference also classifies as the target (`counterfactual_transfer`,
    None if none succeeded; see `metrics.counterfactual_transfer`).
    `accuracy` is the model's on the
    scored images. The foreground fraction of input-weighted maps
    (`integrated_gradients`, `gradients_inputs`) is about 1 on black
    backgrounds by construction (see `metrics.foreground_fraction`).

    Example:

    ```python
    table = kq.explain.interpretability_scores(
        {"standard": m0, "quadreg": m1}, (x_test, y_test), reference_model=other_standard)
    print(table)
    ```

    Args:
        models: A Keras classifier, or a dict of name -> classifier.
        data: `(images, labels)` arrays, or a `tf.data.Dataset` of such
            pairs (batched or not). Labels are class indices or one-hot.
        reference_model: An independently trained classifier for the
            transfer score, or None to skip it.
        methods: Saliency methods (names or `SaliencyMethod`s).
        value_range: `(low, high)`, the valid input range.
        foreground_threshold: See `metrics.foreground_mask`.
        deletion_steps: Steps of the deletion and insertion curves.
        counterfactual_epsilon: `"search"` (each counterfactual's radius is
            searched), a fixed radius, or None to skip the counterfactual
            metrics.
        counterfactual_norm: `2` or `"inf"`.
        counterfactual_max_epsilon: Cap of the searched radius (see
            `kq.explain.counterfactuals`).
        counterfactual_probability: Target probability the search must reach.
        counterfactual_steps: Gradient steps per radius tried (or of the
            fixed radius).
        counterfactual_search_steps: Bisections of the radius search.
        counterfactual_gradient_noise: Noise of the search's gradients, as a
            fraction of the radius tried.
        max_examples: Images scored, from the start of `data` (None: all).
            Counterfactuals cost `classes - 1` attacks per image.
        batch_size: Images processed together.
        seed: Integer seed of the random saliency methods.

    Returns:
        A `ScoreTable` with columns `COLUMNS`.
    """
    if isinstance(models, keras.Model):
        models = {models.name: models}
    if not isinstance(models, dict) or not models:
        raise ValueError(
            "Expected `models` to be a Keras model or a non-empty dict of name -> model. "
            f"Received: models={_classifier.describe(models)}"
        )
    classifiers = {str(name): _classifier.explainer_view(model) for name, model in models.items()}
    reference = None if reference_model is None else _classifier.explainer_view(reference_model)
    methods = [methods_lib.get(m) for m in methods]
    value_range = _classifier.check_value_range(value_range)
    deletion_steps = _validation.integer("deletion_steps", deletion_steps, minimum=1)
    batch_size = _validation.integer("batch_size", batch_size, minimum=1)
    seed = _validation.integer("seed", seed)
    if max_examples is not None:
        max_examples = _validation.integer("max_examples", max_examples, minimum=1)
    if counterfactual_epsilon is not None:
        attack, search = robust_features.counterfactual_settings(
            value_range,
            seed,
            {
                "epsilon": counterfactual_epsilon,
                "norm": counterfactual_norm,
                "max_epsilon": counterfactual_max_epsilon,
                "probability": counterfactual_probability,
                "steps": counterfactual_steps,
                "search_steps": counterfactual_search_steps,
                "gradient_noise": counterfactual_gradient_noise,
            },
            prefix="counterfactual_",
        )
    images, labels = _collect.collect(
        data, max_examples, next(iter(models.values())), at_most=True, name="max_examples"
    )
    for classifier in [*classifiers.values(), *([reference] if reference else [])]:
        images = _classifier.check_images(images, classifier, value_range)
        _classifier.check_classes(labels, len(images), classifier.num_classes, name="labels")
    mask = metrics.foreground_mask(images, threshold=foreground_threshold, value_range=value_range)

    # Every model's outputs (the reference's too), checked before any scoring.
    predictions = {
        name: classifier.probabilities(images, batch_size).argmax(axis=1)
        for name, classifier in classifiers.items()
    }
    if reference is not None:
        reference.probabilities(images, batch_size)
    rows = []
    for name, classifier in classifiers.items():
        row = {"model": name, "accuracy": float(np.mean(predictions[name] == labels))}
        for method in methods:
            maps = methods_lib.compute(
                classifier,
                method,
                images,
                labels,
                value_range=value_range,
                batch_size=batch_size,
                seed=seed,
            )
            areas = [
                metrics.area_under_curve(
                    metrics.perturbation_curves(
                        classifier,
                        images,
                        maps,
                        labels,
                        insertion=insertion,
                        steps=deletion_steps,
                        baseline=value_range[0],
                        batch_size=batch_size,
                    )
                ).mean()
                for insertion in (False, True)
            ]
            rows.append(
                {
                    **row,
                    "explanation": method.name,
                    "deletion_auc": float(areas[0]),
                    "insertion_auc": float(areas[1]),
                    "foreground_fraction": float(metrics.foreground_fraction(maps, mask).mean()),
                }
            )
        if counterfactual_epsilon is not None:
            every = np.tile(np.arange(classifier.num_classes), (len(labels), 1))
            others = every[every != labels[:, None]].reshape(len(labels), -1)
            found = robust_features.compute_counterfactuals(
                classifier,
                images,
                others,
                attack=attack,
                search=search,
                value_range=value_range,
                batch_size=batch_size,
            )
            median = found.median_radius
            rows.append(
                {
                    **row,
                    "explanation": counterfactual_label(found),
                    "counterfactual_success": found.success_rate,
                    "counterfactual_transfer": None
                    if reference is None
                    else metrics.transfer(reference, found, batch_size),
                    "counterfactual_median_radius": median
                    if median is not None and np.isfinite(median)
                    else None,
                }
            )
    return ScoreTable(COLUMNS, rows)

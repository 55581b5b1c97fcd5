"""`quadreg explain`: saliency maps, counterfactuals and interpretability scores of a run."""

import argparse

import keras_quadreg as kq
from keras_quadreg.cli import choices, help_format
from keras_quadreg.cli.runs import RunFolder

SCORE_METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "gradcam")
SEARCH = "search"


def _cf_epsilon(text):
    """`--cf-epsilon`: "search" or a number (its bounds are checked with the other flags')."""
    if text == SEARCH:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected "search" or a radius, got {text!r}') from None


# The counterfactual options of `scores` and `figures`, each the flag --cf-NAME:
# (default, type, help).
_COUNTERFACTUAL_FLAGS = {
    "epsilon": (
        SEARCH,
        _cf_epsilon,
        'l_2 radius of the counterfactuals: "search" finds, per image and target, the '
        "smallest radius at which the target reaches --cf-probability, up to --cf-max-epsilon; "
        "a number is a fixed radius",
    ),
    "max_epsilon": (
        None,
        float,
        "cap of the searched radius (default: 16 times the input range's width)",
    ),
    "probability": (0.5, float, "target probability a searched counterfactual must reach"),
    "steps": (20, int, "gradient steps per radius tried (or fixed)"),
    "search_steps": (4, int, "bisections of the radius search"),
    "gradient_noise": (
        1.0,  # kq.explain.counterfactuals' default
        float,
        "noise at which the search takes its first gradient, as a fraction of the radius "
        "tried, shrinking to none at the last step (0: none)",
    ),
}
#: The counterfactual options' defaults.
COUNTERFACTUAL = {name: flag[0] for name, flag in _COUNTERFACTUAL_FLAGS.items()}


def add_arguments(parser):
    group = parser.add_argument_group("interpretability")
    group.add_argument(
        "--saliency",
        nargs="+",
        default=list(SCORE_METHODS),
        type=choices.saliency_method,
        choices=choices.SALIENCY_METHODS,
        help="saliency methods (hyphens or underscores)",
    )
    group.add_argument("--score-examples", type=int, default=256, help="test images scored")
    for name, (default, kind, text) in _COUNTERFACTUAL_FLAGS.items():
        group.add_argument(f"--cf-{name.replace('_', '-')}", type=kind, default=default, help=text)


def counterfactual_options(args):
    """The `counterfactual` argument of `scores` and `figures` from parsed flags."""
    return {name: getattr(args, f"cf_{name}") for name in COUNTERFACTUAL}


def add_parser(subparsers):
    parser = help_format.command(
        subparsers,
        "explain",
        help="saliency maps, counterfactuals and interpretability scores of a run",
        description="Explain the run's model on test images: figures/explanations.png "
        "(saliency maps and a counterfactual per image), figures/counterfactuals.png "
        "(toward every class, each with the radius it needed), and the interpretability "
        "scores (deletion/insertion AUC, saliency on the digit, counterfactual success, "
        "the median radius the counterfactuals needed and, with --reference, transfer to "
        "that independently trained model) in explanations.md/json. With --reference, "
        "figures/counterfactuals_vs_reference.png shows both models' counterfactuals of "
        "the same images toward the same targets.",
        run_folder=True,
    )
    parser.add_argument(
        "--reference",
        default=None,
        help="run folder of an independently trained model: the transfer score, and its "
        "counterfactuals side by side with the run's",
    )
    parser.add_argument("--images", type=int, default=6, help="test images in the figures")
    help_format.add_test_data_dir(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random saliency methods")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def _counterfactual_kwargs(counterfactual):
    """Arguments of `kq.explain`'s counterfactuals: l_2, `counterfactual`
    over the defaults of `COUNTERFACTUAL`."""
    return {"norm": 2, **COUNTERFACTUAL, **(counterfactual or {})}


def _run_and_test_data(folder, data_dir, limit):
    """The run's model, its configuration and the first `limit` test examples."""
    model = folder.load_model()
    config = folder.read_json(folder.config)
    return (
        model,
        config,
        kq.data.load_arrays(config["dataset"], "test", data_dir=data_dir, limit=limit),
    )


def scores(
    folder,
    *,
    reference=None,
    methods=SCORE_METHODS,
    num_examples=256,
    counterfactual=None,
    data_dir=None,
    seed=0,
):
    """Writes explanations.md/json of a run folder.

    Returns:
        `(table, written)`: the `ScoreTable` and the paths written.
    """
    model, config, test = _run_and_test_data(folder, data_dir, num_examples)
    reference_model = None if reference is None else RunFolder(reference).load_model()
    cf = _counterfactual_kwargs(counterfactual)
    table = kq.explain.interpretability_scores(
        {config["method"]: model},
        test,
        reference_model=reference_model,
        methods=methods,
        **{f"counterfactual_{name}": value for name, value in cf.items()},
        seed=seed,
    )
    markdown = folder.root / "explanations.md"
    markdown.write_text(f"{table.to_markdown()}\n\n{table.legend()}\n")
    folder.write_json(
        folder.explanations,
        {
            "rows": table.rows,
            "num_examples": len(test[0]),
            **{f"counterfactual_{name}": cf[name] for name in COUNTERFACTUAL},
            "reference": None if reference is None else str(reference),
        },
    )
    return table, [markdown, folder.explanations]


def figures(
    folder,
    *,
    reference=None,
    images=6,
    methods=SCORE_METHODS,
    counterfactual=None,
    data_dir=None,
    seed=0,
):
    """Writes figures/explanations.png, figures/counterfactuals.png and, with a
    `reference` run folder, figures/counterfactuals_vs_reference.png; returns their paths."""
    model, config, (x, y) = _run_and_test_data(folder, data_dir, images)
    cf = _counterfactual_kwargs(counterfactual)
    explanation = kq.explain(model, x, methods=methods, classes=y, seed=seed, **cf)
    counterfactuals = kq.explain.counterfactuals(model, x, target_classes="all", **cf)
    folder.figures.mkdir(parents=True, exist_ok=True)
    written = [folder.figures / "explanations.png", folder.figures / "counterfactuals.png"]
    explanation.save(str(written[0]))
    counterfactuals.save(str(written[1]))
    if reference is not None:
        other = RunFolder(reference)
        method = other.read_json(other.config)["method"]
        models = {
            f"{method} (reference)": other.load_model(),
            config["method"]: model,
        }
        written.append(folder.figures / "counterfactuals_vs_reference.png")
        kq.explain.compare_counterfactuals(models, x, "all", **cf).save(str(written[-1]))
    return written


def run(args):
    folder = RunFolder(args.run)
    common = dict(
        methods=args.saliency,
        data_dir=args.data_dir,
        seed=args.seed,
        counterfactual=counterfactual_options(args),
    )
    radius = (
        f"radius searched up to p={args.cf_probability:g}"
        if args.cf_epsilon == SEARCH
        else f"radius {args.cf_epsilon:g}"
    )
    # Both steps take minutes on a CPU: say which one is running.
    print(
        f"quadreg explain: saliency maps ({', '.join(args.saliency)}) and counterfactuals "
        f"of {args.images} test images",
        flush=True,
    )
    written = figures(folder, reference=args.reference, images=args.images, **common)
    print(
        f"quadreg explain: scoring the explanations on {args.score_examples} test images "
        f"(counterfactuals toward every other class, {radius}, {args.cf_steps} steps per radius)",
        flush=True,
    )
    table, tables = scores(
        folder, reference=args.reference, num_examples=args.score_examples, **common
    )
    print(table.to_markdown())
    print()
    print(table.legend())
    print(f"quadreg: wrote {', '.join(map(str, tables + written))}")

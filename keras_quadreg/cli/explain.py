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
    group.add_argument(
        "--cf-epsilon",
        type=_cf_epsilon,
        default=SEARCH,
        help='l_2 radius of the counterfactuals: "search" finds, per image and target, the '
        "smallest radius at which the target reaches --cf-probability, up to --cf-max-epsilon; "
        "a number is a fixed radius",
    )
    group.add_argument(
        "--cf-max-epsilon",
        type=float,
        default=None,
        help="cap of the searched radius (default: 16 times the input range's width)",
    )
    group.add_argument(
        "--cf-probability",
        type=float,
        default=0.5,
        help="target probability a searched counterfactual must reach",
    )
    group.add_argument(
        "--cf-steps", type=int, default=20, help="gradient steps per radius tried (or fixed)"
    )
    group.add_argument(
        "--cf-search-steps", type=int, default=4, help="bisections of the radius search"
    )


def counterfactual_options(args):
    """The counterfactual keyword arguments of `scores` and `figures` from parsed flags."""
    return dict(
        cf_epsilon=args.cf_epsilon,
        cf_max_epsilon=args.cf_max_epsilon,
        cf_probability=args.cf_probability,
        cf_steps=args.cf_steps,
        cf_search_steps=args.cf_search_steps,
    )


def add_parser(subparsers):
    parser = subparsers.add_parser(
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
        formatter_class=help_format.DefaultsOnce,
    )
    parser.add_argument("run", help="run folder written by `quadreg train`")
    parser.add_argument(
        "--reference",
        default=None,
        help="run folder of an independently trained model: the transfer score, and its "
        "counterfactuals side by side with the run's",
    )
    parser.add_argument("--images", type=int, default=6, help="test images in the figures")
    parser.add_argument(
        "--data-dir", default=None, help="raw dataset files (default: $KERAS_QUADREG_DATA)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random saliency methods")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def _counterfactual_kwargs(cf_epsilon, cf_max_epsilon, cf_probability, cf_steps, cf_search_steps):
    return dict(
        epsilon=cf_epsilon,
        norm=2,
        max_epsilon=cf_max_epsilon,
        probability=cf_probability,
        steps=cf_steps,
        search_steps=cf_search_steps,
    )


def scores(
    folder,
    *,
    reference=None,
    methods=SCORE_METHODS,
    num_examples=256,
    cf_epsilon=SEARCH,
    cf_max_epsilon=None,
    cf_probability=0.5,
    cf_steps=20,
    cf_search_steps=4,
    data_dir=None,
    seed=0,
):
    """Writes explanations.md/json of a run folder.

    Returns:
        `(table, written)`: the `ScoreTable` and the paths written.
    """
    model = folder.load_model()
    config = folder.read_json(folder.config)
    test = kq.data.load_arrays(config["dataset"], "test", data_dir=data_dir, limit=num_examples)
    reference_model = None if reference is None else RunFolder(reference).load_model()
    cf = _counterfactual_kwargs(
        cf_epsilon, cf_max_epsilon, cf_probability, cf_steps, cf_search_steps
    )
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
            "counterfactual_epsilon": cf_epsilon,
            "counterfactual_max_epsilon": cf_max_epsilon,
            "counterfactual_probability": cf_probability,
            "counterfactual_steps": cf_steps,
            "counterfactual_search_steps": cf_search_steps,
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
    cf_epsilon=SEARCH,
    cf_max_epsilon=None,
    cf_probability=0.5,
    cf_steps=20,
    cf_search_steps=4,
    data_dir=None,
    seed=0,
):
    """Writes figures/explanations.png, figures/counterfactuals.png and, with a
    `reference` run folder, figures/counterfactuals_vs_reference.png; returns their paths."""
    model = folder.load_model()
    config = folder.read_json(folder.config)
    x, y = kq.data.load_arrays(config["dataset"], "test", data_dir=data_dir, limit=images)
    cf = _counterfactual_kwargs(
        cf_epsilon, cf_max_epsilon, cf_probability, cf_steps, cf_search_steps
    )
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
        **counterfactual_options(args),
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

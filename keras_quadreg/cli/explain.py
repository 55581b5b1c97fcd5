"""`quadreg explain`: saliency maps, counterfactuals and interpretability scores of a run."""

import keras_quadreg as kq
from keras_quadreg.cli import choices, help_format
from keras_quadreg.cli.runs import RunFolder

SCORE_METHODS = ("vanilla", "smoothgrad", "integrated_gradients", "gradcam")


def add_arguments(parser):
    group = parser.add_argument_group("interpretability")
    group.add_argument(
        "--saliency",
        nargs="+",
        default=list(SCORE_METHODS),
        choices=choices.SALIENCY_METHODS,
        help="saliency methods",
    )
    group.add_argument("--score-examples", type=int, default=256, help="test images scored")
    group.add_argument(
        "--cf-epsilon", type=float, default=2.0, help="l_2 radius of the counterfactuals"
    )
    group.add_argument("--cf-steps", type=int, default=50, help="gradient steps per counterfactual")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "explain",
        help="saliency maps, counterfactuals and interpretability scores of a run",
        description="Explain the run's model on test images: figures/explanations.png "
        "(saliency maps and a counterfactual per image), figures/counterfactuals.png "
        "(toward every class), and the interpretability scores (deletion/insertion "
        "AUC, saliency on the digit, counterfactual success and, with --reference, "
        "transfer to that independently trained model) in explanations.md/json.",
        formatter_class=help_format.DefaultsOnce,
    )
    parser.add_argument("run", help="run folder written by `quadreg train`")
    parser.add_argument(
        "--reference",
        default=None,
        help="run folder of an independently trained model, for the transfer score",
    )
    parser.add_argument("--images", type=int, default=6, help="test images in the figures")
    parser.add_argument(
        "--data-dir", default=None, help="raw dataset files (default: $KERAS_QUADREG_DATA)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random saliency methods")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def scores(
    folder,
    *,
    reference=None,
    methods=SCORE_METHODS,
    num_examples=256,
    cf_epsilon=2.0,
    cf_steps=50,
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
    table = kq.explain.interpretability_scores(
        {config["method"]: model},
        test,
        reference_model=reference_model,
        methods=methods,
        counterfactual_epsilon=cf_epsilon,
        counterfactual_steps=cf_steps,
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
            "reference": None if reference is None else str(reference),
        },
    )
    return table, [markdown, folder.explanations]


def figures(folder, *, images=6, methods=SCORE_METHODS, cf_epsilon=2.0, data_dir=None, seed=0):
    """Writes figures/explanations.png and figures/counterfactuals.png; returns their paths."""
    model = folder.load_model()
    config = folder.read_json(folder.config)
    x, y = kq.data.load_arrays(config["dataset"], "test", data_dir=data_dir, limit=images)
    explanation = kq.explain(model, x, methods=methods, classes=y, epsilon=cf_epsilon, seed=seed)
    counterfactuals = kq.explain.counterfactuals(
        model, x, target_classes="all", epsilon=cf_epsilon, norm=2
    )
    folder.figures.mkdir(parents=True, exist_ok=True)
    written = [folder.figures / "explanations.png", folder.figures / "counterfactuals.png"]
    explanation.save(str(written[0]))
    counterfactuals.save(str(written[1]))
    return written


def run(args):
    folder = RunFolder(args.run)
    common = dict(
        methods=args.saliency, cf_epsilon=args.cf_epsilon, data_dir=args.data_dir, seed=args.seed
    )
    # Both steps take minutes on a CPU: say which one is running.
    print(
        f"quadreg explain: saliency maps ({', '.join(args.saliency)}) and counterfactuals "
        f"of {args.images} test images",
        flush=True,
    )
    written = figures(folder, images=args.images, **common)
    print(
        f"quadreg explain: scoring the explanations on {args.score_examples} test images "
        f"(counterfactuals toward every other class, {args.cf_steps} steps each)",
        flush=True,
    )
    table, tables = scores(
        folder,
        reference=args.reference,
        num_examples=args.score_examples,
        cf_steps=args.cf_steps,
        **common,
    )
    print(table.to_markdown())
    print()
    print(table.legend())
    print(f"quadreg: wrote {', '.join(map(str, tables + written))}")

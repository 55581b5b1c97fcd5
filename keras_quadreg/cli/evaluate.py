"""`quadreg evaluate`: the robustness report of a run's model."""

import keras_quadreg as kq
from keras_quadreg.cli import choices, help_format, specs
from keras_quadreg.cli.runs import RunFolder

DEFAULT_ATTACKS = ("fgsm", "pgd:steps=40", "mim")
SWEEP = (0.25, 0.5, 0.75, 1.0, 1.5)


def add_arguments(parser):
    group = parser.add_argument_group("evaluation")
    group.add_argument(
        "--attacks",
        nargs="+",
        default=list(DEFAULT_ATTACKS),
        help="attacks, as name[:key=value,...][@N], keys being the attack class's arguments "
        "(a step is a fraction of epsilon: pgd:steps=40,relative_step_size=0.0625), + joining "
        "a list's values (autoattack:components=apgd_ce+square); @N runs the attack on the "
        f"first N examples only, in report-nN.json (names: {', '.join(choices.ATTACKS)})",
    )
    group.add_argument("--num-examples", type=int, default=1000, help="test examples to attack")
    group.add_argument(
        "--eval-batch-size", type=int, default=256, help="examples attacked together"
    )
    group.add_argument(
        "--sweep",
        nargs="*",
        type=float,
        default=list(SWEEP),
        help="PGD robust accuracy at these multiples of epsilon, for the figure (none: no figure)",
    )
    group.add_argument("--masking", action="store_true", help="also run kq.check_gradient_masking")


def add_parser(subparsers):
    parser = help_format.command(
        subparsers,
        "evaluate",
        help="robustness report of a run's model",
        description="Attack the run's model on the test split and write report.md, "
        "report.json, figures/robust_accuracy_vs_epsilon.png (and masking.md/json "
        "with --masking) into the run folder. The threat model is the run's unless "
        "--epsilon/--norm say otherwise.",
        run_folder=True,
    )
    parser.add_argument(
        "--epsilon", type=float, default=None, help="threat radius (default: the run's)"
    )
    parser.add_argument(
        "--norm", choices=["inf", "2"], default=None, help="threat norm (default: the run's)"
    )
    help_format.add_test_data_dir(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the attacks")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def attack(spec):
    """`"pgd:steps=40,restarts=5"` -> a configured `kq.attacks.Attack`."""
    name, options = specs.parse(spec)
    return kq.attacks.get(name, **options)


def subsets(attack_specs, num_examples):
    """Groups attack specs by how many examples they run on (`spec@N`)."""
    groups = {}
    for spec in attack_specs:
        spec, _, count = spec.partition("@")
        if not count:
            n = num_examples
        elif count.isdigit():
            n = int(count)
        else:  # anything but digits (`@-5`, `@ten`) is out of range below
            n = 0
        if not 0 < n <= num_examples:
            raise ValueError(
                f"Expected an attack's @N between 1 and --num-examples ({num_examples}). "
                f"Received: {spec}@{count}"
            )
        groups.setdefault(n, []).append(spec)
    if num_examples not in groups:
        raise ValueError(
            "Expected at least one attack on all --num-examples examples (without @N). "
            f"Received: attacks={list(attack_specs)}"
        )
    return groups


def attack_groups(attack_specs, num_examples, info):
    """`{N: [Attack, ...]}`: `subsets`, with every attack built and checked
    to run on a model of the dataset `info`'s classes and images, before any
    runs."""
    groups = {
        n: [attack(spec) for spec in group]
        for n, group in subsets(attack_specs, num_examples).items()
    }
    for n, group in groups.items():
        for built in group:
            built.check_classes(info.num_classes)
            built.check_inputs((n, *info.image_shape))
    return groups


def evaluate(
    folder,
    *,
    attacks,
    num_examples,
    batch_size,
    epsilon=None,
    norm=None,
    data_dir=None,
    seed=0,
    sweep=SWEEP,
    masking=False,
    verbose=1,
    report=True,
):
    """Evaluates the model of a run folder and writes the report files.

    Args:
        report: whether to run `attacks` and write the report; `False` runs
            only the sweep and the masking checks (`quadreg compare` resuming
            an evaluation stopped after its report).

    Returns:
        `(report, written)`: the `kq.evaluation.RobustnessReport` (`None`
        when `report=False`) and the paths of the files written, in order.
    """
    model = folder.load_model()
    config = folder.read_json(folder.config)
    groups = attack_groups(attacks, num_examples, kq.data.info(config["dataset"]))
    epsilon = config["epsilon"] if epsilon is None else epsilon
    norm = config["norm"] if norm is None else norm
    test = kq.data.load_arrays(config["dataset"], "test", data_dir=data_dir, limit=num_examples)
    common = dict(batch_size=batch_size, seed=seed, verbose=verbose)
    written = []
    if report:
        report, written = _write_report(
            folder, model, test, epsilon, norm, groups, num_examples, common
        )
    else:
        report = None
    if sweep:
        sweeps = [
            kq.evaluate_robustness(
                model,
                test,
                factor * epsilon,
                norm,
                attacks=["pgd"],
                num_examples=num_examples,
                **common,
            )
            for factor in sweep
        ]
        folder.sweep_figure.parent.mkdir(parents=True, exist_ok=True)
        kq.evaluation.plot_vs_epsilon(
            sweeps, path=str(folder.sweep_figure), training_epsilon=config["epsilon"]
        )
        written.append(folder.sweep_figure)
    if masking:
        checks = kq.check_gradient_masking(
            model, test, epsilon, norm, num_examples=num_examples, **common
        )
        folder.masking_md.write_text(checks.to_markdown() + "\n")
        checks.to_json(str(folder.masking_json))
        written += [folder.masking_md, folder.masking_json]
    return report, written


def _write_report(folder, model, test, epsilon, norm, groups, num_examples, common):
    reports = {
        n: kq.evaluate_robustness(
            model, test, epsilon, norm, attacks=group, num_examples=n, **common
        )
        for n, group in sorted(groups.items(), reverse=True)
    }
    report = reports.pop(num_examples)
    earlier = folder.archive_reports()  # each evaluation is kept, not overwritten
    report.to_json(str(folder.report_json))
    markdown = [report.to_markdown()]
    if earlier:
        markdown.insert(
            0,
            (
                f"Current report: evaluation {earlier + 1} of this run; the {earlier} earlier "
                f"{'ones are' if earlier > 1 else 'one is'} in {folder.reports.name}/ "
                "(001 the oldest)."
            ),
        )
    written = [folder.report_md, folder.report_json]
    for n, subset in reports.items():
        subset.to_json(str(folder.subset_report(n)))
        markdown.append(f"On the first {n} examples:\n\n{subset.to_markdown()}")
        written.append(folder.subset_report(n))
    folder.report_md.write_text("\n\n".join(markdown) + "\n")
    return report, written


def run(args):
    folder = RunFolder(args.run)
    _, written = evaluate(
        folder,
        attacks=args.attacks,
        num_examples=args.num_examples,
        batch_size=args.eval_batch_size,
        epsilon=args.epsilon,
        norm=None if args.norm is None else ("inf" if args.norm == "inf" else 2),
        data_dir=args.data_dir,
        seed=args.seed,
        sweep=args.sweep,
        masking=args.masking,
    )
    print(folder.report_md.read_text())
    print(f"quadreg: wrote {', '.join(map(str, written))}")

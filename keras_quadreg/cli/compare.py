"""`quadreg compare`: several methods trained and evaluated alike, in one table."""

import argparse
import re
import shlex
import sys

import keras_quadreg as kq
from keras_quadreg.cli import evaluate as evaluate_lib
from keras_quadreg.cli import explain as explain_lib
from keras_quadreg.cli import help_format, training_methods
from keras_quadreg.cli import train as train_lib
from keras_quadreg.cli.runs import RunFolder

# quadreg with its defaults, and in the paper's literal form.
DEFAULT_METHODS = (
    "standard",
    "gradient-norm",
    "cure",
    "quadreg",
    "quadreg:expansion_point=input,objective=quadratic,hvp=reverse_over_reverse,iterations=1",
    "fgsm-rs",
    "pgd",
)


def add_parser(subparsers):
    parser = help_format.command(
        subparsers,
        "compare",
        help="train and evaluate several methods alike; write a comparison table",
        description="Train every method with the same architecture, data, epochs and "
        "seed (one run folder each under --out), evaluate each with the same attacks "
        "on the same test examples, and write results.md and results.json to --out. "
        "Runs already trained or evaluated in --out are reused, so an interrupted "
        "comparison continues where it stopped; training times are then from "
        "different invocations, which results.md says.",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        help="methods as name[:option=value,...], options being train flags in "
        "snake case (e.g. quadreg:iterations=3,weight=0.5), + joining a list's values",
    )
    train_lib.add_arguments(parser, method=False)
    evaluate_lib.add_arguments(parser)
    explain_lib.add_arguments(parser)
    parser.add_argument(
        "--interpretability",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="score every method's explanations; transfer is measured on a standard "
        "model trained with --seed + 1 (run folder reference-standard)",
    )
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the attacks")
    parser.add_argument("--out", required=True, help="folder of the comparison")
    parser.set_defaults(handler=run)


def label(spec):
    """A folder-safe label of a method spec: `quadreg:iterations=3` -> `quadreg-iterations=3`."""
    return re.sub(r"[^A-Za-z0-9=._-]+", "-", spec.replace(":", "-").replace(",", "-"))


def _accuracy(report, name):
    results = report.get("attacks", {})
    return results[name]["accuracy"] if name in results else None


def table(rows, attacks):
    """The comparison as markdown."""
    standard = next((r for r in rows if r["method"] == "standard"), None)
    head = ["method", "clean", *attacks, "worst case", "train time (s)", "time / standard"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for row in rows:
        ratio = (
            f"{row['train_seconds'] / standard['train_seconds']:.2f}"
            if standard and standard["train_seconds"]
            else "-"
        )
        cells = [row["label"], _percent(row["clean"])]
        cells += [_percent(row["robust"].get(a)) for a in attacks]
        cells += [_percent(row["worst_case"]), f"{row['train_seconds']:.0f}", ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _percent(value):
    return "-" if value is None else f"{100 * value:.1f} %"


def interpretability_table(rows):
    """Vanilla-gradient and counterfactual scores of every method, as markdown."""
    head = [
        "method",
        "saliency on the object",
        "deletion AUC",
        "insertion AUC",
        "counterfactual success",
        "counterfactual transfer",
        "counterfactual median radius",
    ]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for row in rows:
        scores = row.get("interpretability") or {}
        vanilla = scores.get("vanilla", {})
        counterfactual = next((r for k, r in scores.items() if k.startswith("counterfactual")), {})
        cells = [row["label"]]
        cells += [
            _number(vanilla.get(k))
            for k in ("foreground_fraction", "deletion_auc", "insertion_auc")
        ]
        cells += [
            _number(counterfactual.get(k))
            for k in (
                "counterfactual_success",
                "counterfactual_transfer",
                "counterfactual_median_radius",
            )
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value):
    return "-" if value is None else f"{value:.3f}"


def _reference_run(args, out):
    """`(folder, config)` of an independently trained standard model (another
    seed), for transfer."""
    config = train_lib.config_from_args(args, method="standard", overrides={"seed": args.seed + 1})
    return RunFolder(out.root / "reference-standard"), config


def _train_if_missing(args, folder, config, what):
    """Trains the run of `folder` unless its model exists; returns whether it trained."""
    if folder.model.exists():
        return False
    print(f"quadreg compare: training {what}")
    train_lib.train(
        config,
        folder.root,
        data_dir=args.data_dir,
        verbose=args.verbose,
        keep_checkpoints=args.keep_checkpoints,
    )
    return True


def _reference(args, out):
    folder, config = _reference_run(args, out)
    _train_if_missing(args, folder, config, "the reference standard model")
    return folder.root


def _method_runs(args, out):
    """`(spec, name, folder, config)` of every method spec."""
    runs = []
    for spec in args.methods:
        try:
            name, options = training_methods.parse_spec(spec)
            config = train_lib.config_from_args(args, method=name, overrides=options)
        except ValueError as error:
            raise ValueError(f"In the method spec {spec!r}: {error}") from None
        runs.append((spec, name, RunFolder(out.root / label(spec)), config))
    if len({folder.root for _, _, folder, _ in runs}) != len(runs):
        raise ValueError(
            f"Expected distinct method specs. Received: --methods {' '.join(args.methods)}"
        )
    return runs


def _check(args, out):
    """Checks every method, attack and path before anything trains: a bad
    last spec would otherwise stop the comparison only after the others had
    trained and been evaluated, hours later.

    Returns:
        `(spec, name, folder, config)` of every method spec.
    """
    if out.root.exists() and not out.root.is_dir():
        raise ValueError(f"Expected --out to be a folder; it is a file. Received: --out={args.out}")
    runs = _method_runs(args, out)
    planned = [(folder, config) for _, _, folder, config in runs]
    if args.interpretability:
        planned.append(_reference_run(args, out))
    for folder, config in planned:
        if not folder.model.exists():
            train_lib.check_out(folder.root, config)
    evaluate_lib.attack_groups(args.attacks, args.num_examples, kq.data.info(args.dataset))
    for split in ("train", "test"):  # the data directory and its files
        kq.data.load_arrays(args.dataset, split, data_dir=args.data_dir, limit=1)
    return runs


def run(args):
    out = RunFolder(args.out)
    specs = _check(args, out)
    out.root.mkdir(parents=True, exist_ok=True)
    trained_here = []
    rows = []
    reference = _reference(args, out) if args.interpretability else None
    for spec, name, folder, config in specs:
        if _train_if_missing(args, folder, config, spec):
            trained_here.append(spec)
        # Each part of an evaluation is resumed on its own: a comparison
        # stopped during the masking checks keeps its (long) report.
        missing = {
            "report": not folder.report_json.exists(),
            "sweep": bool(args.sweep) and not folder.sweep_figure.exists(),
            "masking": args.masking and not folder.masking_json.exists(),
        }
        if any(missing.values()):
            parts = [part for part, needed in missing.items() if needed]
            print(f"quadreg compare: evaluating {spec} ({', '.join(parts)})")
            evaluate_lib.evaluate(
                folder,
                attacks=args.attacks,
                num_examples=args.num_examples,
                batch_size=args.eval_batch_size,
                data_dir=args.data_dir,
                seed=args.eval_seed,
                sweep=args.sweep if missing["sweep"] else [],
                masking=missing["masking"],
                report=missing["report"],
            )
        if args.interpretability and not folder.explanations.exists():
            print(f"quadreg compare: scoring the explanations of {spec}")
            explain_lib.scores(
                folder,
                reference=reference,
                methods=args.saliency,
                num_examples=args.score_examples,
                counterfactual=explain_lib.counterfactual_options(args),
                data_dir=args.data_dir,
                seed=args.eval_seed,
            )
        report = folder.read_json(folder.report_json)
        robust = {a: r["accuracy"] for a, r in report["attacks"].items()}
        for n, path in sorted(folder.subset_reports().items()):
            robust.update(
                {
                    f"{a} (n={n})": r["accuracy"]
                    for a, r in folder.read_json(path)["attacks"].items()
                }
            )
        interpretability = None
        if args.interpretability:
            interpretability = {
                r["explanation"]: r for r in folder.read_json(folder.explanations)["rows"]
            }
        rows.append(
            {
                "label": spec,
                "method": name,
                "run": str(folder.root),
                "clean": report["clean_accuracy"],
                "robust": robust,
                "worst_case": report["worst_case_accuracy"],
                "train_seconds": folder.read_json(folder.timing)["train_seconds"],
                "threat_model": report["threat_model"],
                "num_examples": report["num_examples"],
                "interpretability": interpretability,
            }
        )
    attacks = list(rows[0]["robust"]) if rows else []
    markdown = table(rows, attacks)
    note = (
        "All methods were trained in this invocation."
        if len(trained_here) == len(specs)
        else f"Trained in this invocation: {trained_here or 'none'}; the other runs were reused "
        "from earlier invocations."
    )
    if args.interpretability:
        markdown += "\n\n" + interpretability_table(rows)
    out.root.joinpath("results.md").write_text(
        f"{markdown}\n\n{note}\n\nCommand: `{shlex.join(['quadreg', *sys.argv[1:]])}`\n"
    )
    out.write_json(out.root / "results.json", {"rows": rows, "note": note})
    print(markdown)
    print(note)
    return rows

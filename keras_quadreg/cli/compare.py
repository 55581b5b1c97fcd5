"""`quadreg compare`: several methods trained and evaluated alike, in one table."""

import argparse
import re
import shlex
import sys

from keras_quadreg.cli import evaluate as evaluate_lib
from keras_quadreg.cli import explain as explain_lib
from keras_quadreg.cli import methods as methods_lib
from keras_quadreg.cli import train as train_lib
from keras_quadreg.cli.runs import RunFolder

# quadreg with its defaults, and in the paper's literal form.
DEFAULT_METHODS = (
    "standard", "gradient-norm", "cure", "quadreg",
    "quadreg:expansion_point=input,objective=quadratic,hvp=reverse_over_reverse,iterations=1",
    "fgsm-rs", "pgd",
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "compare",
        help="train and evaluate several methods alike; write a comparison table",
        description="Train every method with the same architecture, data, epochs and "
        "seed (one run folder each under --out), evaluate each with the same attacks "
        "on the same test examples, and write results.md and results.json to --out. "
        "Runs already trained or evaluated in --out are reused, so an interrupted "
        "comparison continues where it stopped; training times are then from "
        "different invocations, which results.md says.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--methods", nargs="+", default=list(DEFAULT_METHODS),
        help="methods as name[:option=value,...], options being train flags in "
        "snake case (e.g. quadreg:iterations=3,weight=0.5)",
    )
    train_lib.add_arguments(parser, method=False)
    evaluate_lib.add_arguments(parser)
    explain_lib.add_arguments(parser)
    parser.add_argument(
        "--interpretability", action=argparse.BooleanOptionalAction, default=True,
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
            if standard and standard["train_seconds"] else "-"
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
    head = ["method", "saliency on the object", "deletion AUC", "insertion AUC",
            "counterfactual success", "counterfactual transfer"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for row in rows:
        scores = row.get("interpretability") or {}
        vanilla = scores.get("vanilla", {})
        counterfactual = next((r for k, r in scores.items() if k.startswith("counterfactual")), {})
        cells = [row["label"]]
        cells += [_number(vanilla.get(k)) for k in ("foreground_fraction", "deletion_auc", "insertion_auc")]
        cells += [_number(counterfactual.get(k)) for k in ("counterfactual_success", "counterfactual_transfer")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value):
    return "-" if value is None else f"{value:.3f}"


def _reference(args, out):
    """An independently trained standard model (another seed), for transfer."""
    folder = RunFolder(out.root / "reference-standard")
    if not folder.model.exists():
        print("quadreg compare: training the reference standard model")
        config = train_lib.config_from_args(args, method="standard", overrides={"seed": args.seed + 1})
        train_lib.train(config, folder.root, data_dir=args.data_dir, verbose=args.verbose)
    return folder.root


def run(args):
    out = RunFolder(args.out)
    out.root.mkdir(parents=True, exist_ok=True)
    specs = [(spec, *methods_lib.parse_spec(spec)) for spec in args.methods]
    trained_here = []
    rows = []
    reference = _reference(args, out) if args.interpretability else None
    for spec, name, options in specs:
        folder = RunFolder(out.root / label(spec))
        config = train_lib.config_from_args(args, method=name, overrides=options)
        if not folder.model.exists():
            print(f"quadreg compare: training {spec}")
            train_lib.train(config, folder.root, data_dir=args.data_dir, verbose=args.verbose)
            trained_here.append(spec)
        if not folder.report_json.exists():
            print(f"quadreg compare: evaluating {spec}")
            evaluate_lib.evaluate(
                folder, attacks=args.attacks, num_examples=args.num_examples,
                batch_size=args.eval_batch_size, data_dir=args.data_dir, seed=args.eval_seed,
                sweep=args.sweep, masking=args.masking,
            )
        if args.interpretability and not folder.explanations.exists():
            print(f"quadreg compare: scoring the explanations of {spec}")
            explain_lib.scores(
                folder, reference=reference, methods=args.saliency, num_examples=args.score_examples,
                cf_epsilon=args.cf_epsilon, cf_steps=args.cf_steps, data_dir=args.data_dir,
                seed=args.eval_seed,
            )
        report = folder.read_json(folder.report_json)
        robust = {a: r["accuracy"] for a, r in report["attacks"].items()}
        for n, path in sorted(folder.subset_reports().items()):
            robust.update(
                {f"{a} (n={n})": r["accuracy"] for a, r in folder.read_json(path)["attacks"].items()}
            )
        interpretability = None
        if args.interpretability:
            interpretability = {
                r["explanation"]: r for r in folder.read_json(folder.explanations)["rows"]
            }
        rows.append({
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
        })
    attacks = list(rows[0]["robust"]) if rows else []
    markdown = table(rows, attacks)
    note = (
        "All methods were trained in this invocation."
        if len(trained_here) == len(specs)
        else f"Trained in this invocation: {trained_here or 'none'}; the other runs were reused from earlier invocations."
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

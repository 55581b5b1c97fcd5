"""The leaderboard: every method at its recipe on MNIST (l_inf 0.3) and
Fashion-MNIST (l_inf 0.1), evaluated alike, collected into one JSON file.

Each row is a `quadreg train` command (a method, a recipe, a seed), then
`quadreg evaluate` (clean, PGD-40 and the standard AutoAttack on the first
1,000 test images), `quadreg explain` (the interpretability scores, transfer
measured on the standard model of the next seed) and, for the rows named with
`--masking`, the gradient-masking checks. Every stage skips what its run
folder already holds, so the board resumes where it stopped; stages of
different rows are independent, so two processes pinned to one core each
(`--shard 0/2` and `--shard 1/2`) share the work:

    taskset -c 0 python benchmarks/leaderboard.py --data-dir DATA --out OUT --shard 0/2 &
    taskset -c 1 python benchmarks/leaderboard.py --data-dir DATA --out OUT --shard 1/2 &
    python benchmarks/leaderboard.py --data-dir DATA --out OUT --stage collate \\
        --step-costs OUT/step_cost.json --board docs/measured/leaderboard.json \\
        --markdown docs/measured/leaderboard.md --figure docs/figures/leaderboard.png

`--step-costs` is the JSON of `benchmarks/step_cost.py --json`, whose time
ratios (measured round robin in one run) turn epochs into standard-epoch
equivalents. Each run folder's `board.json` records the commands and the
commits they ran at.
"""

import argparse
import csv
import json
import math
import os
import pathlib
import shlex
import subprocess
import sys

EPSILON = {"mnist": 0.3, "fashion_mnist": 0.1}
NUM_EXAMPLES = 1000
ATTACKS = ["pgd:steps=40", "autoattack"]
# Checkpoint selection on the last 1,000 training images for every method.
SELECTION = ["--holdout", "1000", "--select-attack", "pgd:steps=10"]
# The common recipe: Wong et al.'s (2020) network and learning-rate cycle
# (Adam, peak 5e-3 after 4 of 10 epochs, batch 100), epsilon ramped over the
# first 3 epochs. The peak was chosen for the default quadreg on the
# held-out images (best epoch's PGD-10 there: 1e-3 92.1 %, 2e-3 94.8 %,
# 5e-3 95.9 %; 5e-3 without the ramp 96.2 %, within a standard error).
RECIPE = [
    "--arch", "wong_cnn", "--epochs", "10", "--batch-size", "100", "--optimizer", "adam",
    "--lr", "5e-3", "--lr-schedule", "cyclic", "--ramp-epochs", "3",
]  # fmt: skip
COMMON = [*RECIPE, *SELECTION]

# (method, recipe, train flags, label of the row's step in step_cost.py, or None
# for a row whose Frank-Wolfe steps K change from epoch to epoch: its cost sums
# each epoch's "quadreg random, adversarial, K=k" row, and its entry records
# the mean K)
ROWS = {
    # Standard training keeps its last epoch: its robust accuracy is 0 at every
    # epoch, so the selection would keep the first.
    "standard": ("standard", "common", ["--method", "standard", *RECIPE], "standard"),
    "quadreg": (
        "quadreg",
        "common",
        ["--method", "quadreg", *COMMON],
        "quadreg random, adversarial, K=2",
    ),
    "quadreg-k3": (
        "quadreg-k3",
        "common",
        ["--method", "quadreg", "--iterations", "3", *COMMON],
        "quadreg random, adversarial, K=3",
    ),
    "quadreg-adapt": (
        "quadreg-adapt",
        "common",
        ["--method", "quadreg", "--adapt-iterations", *COMMON],
        None,
    ),
    # The random start unclipped, as Wong et al. train (clipped, FGSM-RS overfits
    # catastrophically at epsilon 0.3).
    "fgsm-rs": (
        "fgsm-rs",
        "common",
        ["--method", "fgsm-rs", "--no-clip-start", *COMMON],
        "FGSM-RS",
    ),
    "fgsm-rs-wong": (
        "fgsm-rs",
        "wong2020_mnist",
        ["--recipe", "wong2020_mnist", *SELECTION],
        "FGSM-RS",
    ),
    # N-FGSM's noise at 1 epsilon, not the paper's 2: at MNIST's epsilon 0.3 the
    # paper's noise collapses clean accuracy once the ramp ends. Screened on the
    # held-out images (best epoch's PGD-10 there: 0.5 epsilon 83.5 %, 1 epsilon
    # 88.4 %, 2 epsilon 66.2 %).
    "n-fgsm": (
        "n-fgsm",
        "common",
        ["--method", "n-fgsm", "--noise-magnitude", "1.0", *COMMON],
        "N-FGSM",
    ),
    "pgd-2": (
        "pgd-2",
        "common",
        ["--method", "pgd", "--attack-steps", "2", *COMMON],
        "PGD-2 AT",
    ),
    "pgd-3": (
        "pgd-3",
        "common",
        ["--method", "pgd", "--attack-steps", "3", *COMMON],
        "PGD-3 AT",
    ),
    "pgd-10": (
        "pgd-10",
        "common",
        ["--method", "pgd", "--attack-steps", "10", *COMMON],
        "PGD-10 AT",
    ),
    "trades": (
        "trades",
        "common",
        ["--method", "trades", "--attack-steps", "10", "--beta", "6", *COMMON],
        "TRADES-10",
    ),
}
STAGES = ("train", "evaluate", "explain", "masking", "collate")


def _commit():
    repo = pathlib.Path(__file__).resolve().parents[1]
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}{'+dirty' if dirty else ''}" if head else None


def _quadreg(*args):
    return [sys.executable, "-m", "keras_quadreg", *map(str, args)]


def _record(run, stage, command):
    """Adds a stage's command and commit to the run's board.json."""
    path = run / "board.json"
    board = json.loads(path.read_text()) if path.exists() else {}
    board[stage] = {"command": shlex.join(command[2:]), "commit": _commit()}
    path.write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")


def _run(run, stage, command, dry_run):
    print(f"[{stage}] {shlex.join(command)}", flush=True)
    if dry_run:
        return
    subprocess.run(command, check=True)
    _record(run, stage, command)


def _folder(out, dataset, row, seed):
    return pathlib.Path(out) / dataset / f"{row}-s{seed}"


def _units(args):
    """The (dataset, seed, row) runs of this shard: every n-th from the i-th."""
    index, count = args.shard
    units = [(d, s, r) for d in args.datasets for s in args.seeds for r in args.rows]
    return units[index::count]


def tasks(args):
    """The (row folder, stage, command) still to do, run by run; lazily, so that
    a stage sees what the one before it wrote."""
    for dataset, seed, row in _units(args):
        run = _folder(args.out, dataset, row, seed)
        _, _, flags, _ = ROWS[row]
        data = ["--data-dir", args.data_dir]
        if "train" in args.stage and not (run / "model.keras").exists():
            yield run, "train", _quadreg(
                "train", "--dataset", dataset, "--epsilon", EPSILON[dataset], *flags,
                "--seed", seed, "--val-limit", "0", "--verbose", "2", *data, "--out", run,
            )  # fmt: skip
        evaluate = ["--num-examples", NUM_EXAMPLES, "--seed", 0, *data]
        if "evaluate" in args.stage and not (run / "report.json").exists():
            yield (
                run,
                "evaluate",
                _quadreg("evaluate", run, "--attacks", *ATTACKS, *evaluate, "--sweep"),
            )
        reference = _folder(args.out, dataset, "standard", seed + 1)
        if (
            "explain" in args.stage
            and not (run / "explanations.json").exists()
            and (reference / "model.keras").exists()
        ):
            yield (
                run,
                "explain",
                _quadreg("explain", run, "--reference", reference, "--seed", 0, *data),
            )
        if (
            "masking" in args.stage
            and row in args.masking
            and seed == args.seeds[0]
            and not (run / "masking.json").exists()
        ):
            yield (
                run,
                "masking",
                _quadreg("evaluate", run, "--attacks", *ATTACKS, *evaluate, "--masking", "--sweep"),
            )


def _epoch_iterations(run):
    """The Frank-Wolfe steps K of each epoch of an adaptive run, from its
    history.csv (an epoch logged twice, by a run resumed after it was logged,
    counts once: its last row)."""
    history = run / "history.csv"
    if not history.exists():
        raise SystemExit(
            f"leaderboard.py: {run} trained with --adapt-iterations but has no history.csv, "
            "whose iterations column gives its K; move the folder aside to redo the run."
        )
    rows = list(csv.DictReader(history.read_text().splitlines()))
    per_epoch = {int(row["epoch"]): int(row["iterations"]) for row in rows}
    return [per_epoch[epoch] for epoch in sorted(per_epoch)]


def _adaptive_cost(iterations, costs):
    """Standard-epoch equivalents of epochs trained with these K, or None
    when a K has no step cost. The probe that sets K (a two-step attack on
    1,000 training images an epoch, about 0.05 standard epochs) is left out."""
    labels = [f"quadreg random, adversarial, K={k}" for k in iterations]
    if not all(label in costs for label in labels):
        return None
    return sum(costs[label] for label in labels)


def _portable(command, out):
    """A recorded command with this machine's folders as placeholders: the
    board's folder as OUT, the data folder as $KERAS_QUADREG_DATA."""
    words = shlex.split(command)
    root = str(pathlib.Path(out).resolve())
    for i, word in enumerate(words):
        if i and words[i - 1] == "--data-dir":
            words[i] = "$KERAS_QUADREG_DATA"
        elif word == root or word.startswith(root + os.sep):
            words[i] = "OUT" + word[len(root) :]
    return " ".join(words)


def collate(args):
    """The board's rows from the run folders that have a report."""
    costs = {}
    if args.step_costs:
        costs = {r["objective"]: r["time_ratio"] for r in json.loads(args.step_costs.read_text())}
    rows = []
    for dataset in args.datasets:
        for seed in args.seeds:
            for row in args.rows:
                run = _folder(args.out, dataset, row, seed)
                if not (run / "report.json").exists():
                    continue
                method, recipe, _, step_label = ROWS[row]
                files = ("report.json", "config.json", "timing.json", "board.json")
                missing = [name for name in files if not (run / name).exists()]
                if missing:
                    raise SystemExit(
                        f"leaderboard.py: {run} has a report.json but not {', '.join(missing)}, "
                        "which this script's train and evaluate stages write; move the folder "
                        f"aside to redo the run, or leave out --rows {row}."
                    )
                report, config, timing, board = (
                    json.loads((run / name).read_text()) for name in files
                )
                accuracy = {name: a["accuracy"] for name, a in report["attacks"].items()}
                if not {"pgd", "autoattack"} <= set(accuracy):
                    raise SystemExit(
                        f"leaderboard.py: {run / 'report.json'} has the attacks "
                        f"{sorted(accuracy)}, not the board's {ATTACKS}; move it aside to rerun "
                        "the evaluate stage."
                    )
                entry = {
                    "dataset": dataset,
                    "epsilon": EPSILON[dataset],
                    "method": method,
                    "row": row,
                    "recipe": recipe,
                    "arch": config["arch"],
                    "command": _portable(board["train"]["command"], args.out),
                    "commit": board["train"]["commit"],
                    "evaluate_commit": board["evaluate"]["commit"],
                    "seed": seed,
                    "num_examples": report["num_examples"],
                    "clean": report["clean_accuracy"],
                    "pgd40": accuracy["pgd"],
                    "autoattack": accuracy["autoattack"],
                    "worst_case": report["worst_case_accuracy"],
                    "epochs": config["epochs"],
                    "cost": config["epochs"] * costs[step_label] if step_label in costs else None,
                    "train_seconds": timing["train_seconds"],
                }
                if config.get("adapt_iterations"):
                    iterations = _epoch_iterations(run)
                    entry["mean_iterations"] = sum(iterations) / len(iterations)
                    entry["cost"] = _adaptive_cost(iterations, costs)
                selection = run / "selection.json"
                if selection.exists():
                    entry["selected_epoch"] = json.loads(selection.read_text())["epoch"]
                if (run / "explanations.json").exists():
                    scores = json.loads((run / "explanations.json").read_text())
                    if scores.get("reference"):
                        scores["reference"] = _portable(scores["reference"], args.out)
                    entry["interpretability"] = scores
                if (run / "masking.json").exists():
                    entry["masking"] = json.loads((run / "masking.json").read_text())
                rows.append(entry)
    board = {"rows": rows}
    if args.board:
        args.board.write_text(json.dumps(board, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(board))
    if args.figure:
        figure(board, args.figure)
    return board


def _standard_error(value, n):
    """The binomial standard error of an accuracy measured on `n` examples."""
    return math.sqrt(value * (1 - value) / n)


def _percent(value, n=None):
    """`value` in percent, with its standard error over `n` examples."""
    if value is None:
        return "-"
    if n is None:
        return f"{100 * value:.1f} %"
    return f"{100 * value:.1f} ± {100 * _standard_error(value, n):.1f}"


def _interpretability(entry):
    """The vanilla gradient's share on the object and deletion AUC, and the
    counterfactuals' transfer and median radius, from explanations.json."""
    rows = entry.get("interpretability", {}).get("rows", [])
    vanilla = next((r for r in rows if r["explanation"] == "vanilla"), {})
    counterfactual = next((r for r in rows if r["explanation"].startswith("counterfactual")), {})
    values = (
        vanilla.get("foreground_fraction"),
        vanilla.get("deletion_auc"),
        counterfactual.get("counterfactual_transfer"),
        counterfactual.get("counterfactual_median_radius"),
    )
    return ["-" if v is None else f"{v:.3f}" if i < 3 else f"{v:.2f}" for i, v in enumerate(values)]


def markdown(board):
    """The board as one Markdown table a dataset, best AutoAttack first."""
    lines = []
    for dataset in EPSILON:
        rows = [r for r in board["rows"] if r["dataset"] == dataset]
        if not rows:
            continue
        lines += [
            f"{dataset}, l_inf epsilon {EPSILON[dataset]}, the first {rows[0]['num_examples']:,} "
            "test images (± one standard error):",
            "",
            "| row | recipe | seed | clean | PGD-40 | AutoAttack | worst case | cost (standard "
            "epochs) | selected epoch | train time | saliency on object | deletion AUC | "
            "counterfactual transfer | counterfactual radius |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: |",
        ]
        for r in sorted(rows, key=lambda r: (-r["autoattack"], r["row"], r["seed"])):
            n = r["num_examples"]
            cost = "-" if r["cost"] is None else f"{r['cost']:.1f}"
            if "mean_iterations" in r:
                cost += f" (mean K {r['mean_iterations']:.2f})"
            lines.append(
                "| "
                + " | ".join(
                    [
                        r["row"],
                        r["recipe"],
                        str(r["seed"]),
                        _percent(r["clean"]),
                        _percent(r["pgd40"], n),
                        _percent(r["autoattack"], n),
                        _percent(r["worst_case"], n),
                        cost,
                        str(r.get("selected_epoch", "-")),
                        f"{r['train_seconds'] / 60:.1f} min",
                        *_interpretability(r),
                    ]
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def figure(board, path):
    """AutoAttack accuracy against cost in standard epochs, a panel a dataset."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    datasets = [d for d in EPSILON if any(r["dataset"] == d for r in board["rows"])]
    canvas = Figure(figsize=(6.5 * len(datasets), 5))
    FigureCanvasAgg(canvas)
    for i, dataset in enumerate(datasets):
        ax = canvas.add_subplot(1, len(datasets), i + 1)
        rows = [r for r in board["rows"] if r["dataset"] == dataset and r["cost"] is not None]
        names = sorted({r["row"] for r in rows}, key=list(ROWS).index)
        # A colour a row and a legend, not labels: the robust rows sit too close to label.
        # tab20's dark shades, then its light ones: distinct colours for up to 20 rows.
        palette = [matplotlib.colormaps["tab20"](k) for k in (*range(0, 20, 2), *range(1, 20, 2))]
        colours = {name: palette[j % 20] for j, name in enumerate(names)}
        for r in sorted(rows, key=lambda r: (names.index(r["row"]), r["seed"])):
            n = r["num_examples"]
            error = 100 * _standard_error(r["autoattack"], n)
            first = r["seed"] == min(q["seed"] for q in rows if q["row"] == r["row"])
            ax.errorbar(
                r["cost"],
                100 * r["autoattack"],
                yerr=error,
                fmt="*" if r["method"].startswith("quadreg") else "o",
                markersize=13 if r["method"].startswith("quadreg") else 7,
                color=colours[r["row"]],
                label=r["row"] if first else None,
                zorder=3,
            )
        ax.legend(fontsize=8, loc="lower right")
        ax.set_xlabel("training cost (standard-training epochs)")
        ax.set_ylabel("robust accuracy under AutoAttack (%)")
        ax.set_title(f"{dataset}, l_inf {EPSILON[dataset]}")
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    canvas.tight_layout()
    canvas.savefig(path, dpi=120)


def _shard(text):
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise argparse.ArgumentTypeError(
            f"Expected i/n with integers 0 <= i < n. Received: --shard={text}"
        )
    return int(index), int(count)


def _check(parser, args):
    """Exits through `parser.error` at the first inconsistent flag, before
    any stage runs or any file is written."""
    for flag in ("datasets", "rows", "seeds"):
        values = getattr(args, flag)
        if len(set(values)) != len(values):
            parser.error(
                f"Expected distinct --{flag}: a repeated one would run twice and make two rows. "
                f"Received: --{flag} {' '.join(map(str, values))}"
            )
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"Expected --seeds >= 0. Received: --seeds {' '.join(map(str, args.seeds))}")
    if "collate" in args.stage:
        if len(args.stage) > 1:
            parser.error(
                "Expected collate alone in --stage: it reads what the other stages wrote. "
                f"Received: --stage {' '.join(args.stage)}"
            )
        if args.step_costs is not None and not args.step_costs.is_file():
            parser.error(
                f"Expected --step-costs to be a file. Received: --step-costs={args.step_costs}"
            )
        for flag in ("board", "markdown", "figure"):
            path = getattr(args, flag)
            if path is not None and not path.parent.is_dir():
                parser.error(f"Expected --{flag} in an existing folder. Received: --{flag}={path}")
        return
    for flag in ("step_costs", "board", "markdown", "figure"):
        if getattr(args, flag) is not None:
            parser.error(
                f"Expected --{flag.replace('_', '-')} with --stage collate only, which reads "
                f"or writes it. Received: --stage {' '.join(args.stage)}"
            )
    unknown = [row for row in args.masking if row not in args.rows]
    if unknown:
        parser.error(
            f"Expected --masking rows among --rows {' '.join(args.rows)}. "
            f"Received: --masking {' '.join(args.masking)}"
        )
    if args.masking and "masking" not in args.stage:
        parser.error(
            "Expected masking in --stage with --masking: the checks run in that stage. "
            f"Received: --stage {' '.join(args.stage)}"
        )
    if args.data_dir is None:
        parser.error(
            "Expected --data-dir (or $KERAS_QUADREG_DATA) for the train, evaluate, explain and "
            "masking stages. Received: --data-dir=None"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="leaderboard.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("KERAS_QUADREG_DATA"),
        help="raw dataset files (default: $KERAS_QUADREG_DATA)",
    )
    parser.add_argument("--out", required=True, help="folder of the board's run folders")
    parser.add_argument("--datasets", nargs="+", default=list(EPSILON), choices=list(EPSILON))
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--stage",
        nargs="+",
        default=["train", "evaluate", "explain"],
        choices=STAGES,
        help="stages to run (default: train evaluate explain)",
    )
    parser.add_argument("--masking", nargs="*", default=[], help="rows whose masking checks run")
    parser.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: every n-th task from i")
    parser.add_argument("--step-costs", type=pathlib.Path, help="benchmarks/step_cost.py --json")
    parser.add_argument("--board", type=pathlib.Path, help="where collate writes the board")
    parser.add_argument(
        "--markdown", type=pathlib.Path, help="where collate writes the board's tables"
    )
    parser.add_argument(
        "--figure", type=pathlib.Path, help="where collate draws AutoAttack against cost (PNG)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    _check(parser, args)
    if "collate" in args.stage:
        board = collate(args)
        print(f"{len(board['rows'])} rows" + (f" in {args.board}" if args.board else ""))
        return
    for run, stage, command in tasks(args):
        _run(run, stage, command, args.dry_run)


if __name__ == "__main__":
    main()

"""Screening study of QuadraticAdversarial's variants (docs/results.md).

Trains every variant with the same reduced recipe (the first `--limit`
training images, `--epochs` epochs with epsilon ramped over `--ramp-epochs`,
seed 0) through `quadreg train`, one after the other on the same machine, and
scores it on a held-out slice of the *training* set (images the screening
runs never train on; test images are kept for the final table): clean
accuracy, PGD-20 and APGD-CE (100 iterations, ART). Prints the ablation table
with each variant's training time over the standard model's, measured in the
same study.

Finished runs and scores are reused, so an interrupted study resumes:

    python benchmarks/quadreg_study.py --data-dir "$KERAS_QUADREG_DATA" --out runs/study
    python benchmarks/quadreg_study.py ... --variants standard literal-k1 fw2-secant-adv
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

# name -> (method, options). Every quadreg variant spells out the four axes
# (where the quadratic is expanded, what the step minimizes, the curvature
# scale, the iterations), so the table does not depend on the defaults.
# "literal" is the paper's form; the others change one or two axes at a time.


def _quadreg(expansion_point, objective, hvp, iterations, **extra):
    return (
        "quadreg",
        {
            "expansion_point": expansion_point,
            "objective": objective,
            "hvp": hvp,
            "iterations": iterations,
            **extra,
        },
    )


EXACT = "reverse_over_reverse"
VARIANTS = {
    "standard": ("standard", {}),
    "fgsm-rs": ("fgsm-rs", {}),
    "pgd-10": ("pgd", {}),
    "literal-k1": _quadreg("input", "quadratic", EXACT, 1),
    "literal-k3": _quadreg("input", "quadratic", EXACT, 3),
    "secant-k1": _quadreg("input", "quadratic", "secant", 1),
    "secant-k2": _quadreg("input", "quadratic", "secant", 2),
    "random-k2-secant": _quadreg("random", "quadratic", "secant", 2),
    "excess-k1": _quadreg("input", "excess_loss", EXACT, 1),
    "excess-k2-secant": _quadreg("input", "excess_loss", "secant", 2),
    "random-excess-k2-secant": _quadreg("random", "excess_loss", "secant", 2),
    "random-excess-k2-secant-w2": _quadreg("random", "excess_loss", "secant", 2, weight=2.0),
    "adv-k1": _quadreg("input", "adversarial", EXACT, 1),
    "adv-k2-secant": _quadreg("input", "adversarial", "secant", 2),
    "random-adv-k1": _quadreg("random", "adversarial", EXACT, 1),
    "random-adv-k2-exact": _quadreg("random", "adversarial", EXACT, 2),
    "random-adv-k2-secant": _quadreg("random", "adversarial", "secant", 2),
    "random-adv-k3-secant": _quadreg("random", "adversarial", "secant", 3),
    "random-adv-k3-secant-ls": _quadreg(
        "random", "adversarial", "secant", 3, step_rule="line_search"
    ),
}


def _flags(options):
    flags = []
    for key, value in options.items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    return flags


def train(name, args):
    method, options = VARIANTS[name]
    folder = pathlib.Path(args.out) / name
    if (folder / "model.keras").exists():
        return folder
    command = [
        sys.executable,
        "-m",
        "keras_quadreg",
        "train",
        "--dataset",
        args.dataset,
        "--data-dir",
        args.data_dir,
        "--epsilon",
        str(args.epsilon),
        "--limit",
        str(args.limit),
        "--epochs",
        str(args.epochs),
        "--ramp-epochs",
        str(args.ramp_epochs),
        "--val-limit",
        "0",
        "--seed",
        str(args.seed),
        "--verbose",
        "2",
        "--method",
        method,
        *_flags(options),
        "--out",
        str(folder),
    ]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return folder


def score(folder, args):
    path = folder / "heldout.json"
    if path.exists():
        return json.loads(path.read_text())
    import keras

    import keras_quadreg as kq

    x, y = kq.data.load_arrays(args.dataset, "train", data_dir=args.data_dir)
    x, y = (
        x[args.heldout_start : args.heldout_start + args.heldout],
        y[args.heldout_start : args.heldout_start + args.heldout],
    )
    model = keras.models.load_model(folder / "model.keras")
    start = time.perf_counter()
    report = kq.evaluate_robustness(
        model,
        (x, y),
        epsilon=args.epsilon,
        seed=args.seed,
        verbose=0,
        attacks=[
            kq.attacks.PGD(steps=20, name="pgd20"),
            kq.attacks.AutoAttack(components=["apgd_ce"], name="apgd_ce"),
        ],
    )
    timing = json.loads((folder / "timing.json").read_text())
    result = {
        "clean": report.clean_accuracy,
        "pgd20": report.attacks["pgd20"].accuracy,
        "apgd_ce": report.attacks["apgd_ce"].accuracy,
        "worst_case": report.worst_case_accuracy,
        "train_seconds": timing["train_seconds"],
        "eval_seconds": time.perf_counter() - start,
        "heldout": (
            f"{args.dataset} train[{args.heldout_start}:{args.heldout_start + args.heldout}]"
        ),
    }
    path.write_text(json.dumps(result, indent=2))
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument(
        "--limit", type=int, default=20000, help="train on the first N training images"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ramp-epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--heldout-start",
        type=int,
        default=50000,
        help="first training image of the held-out slice",
    )
    parser.add_argument("--heldout", type=int, default=500, help="size of the held-out slice")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    if args.heldout_start < args.limit:
        parser.error(
            "the held-out slice must not overlap the training images (--heldout-start >= --limit)"
        )

    rows = {}
    for name in args.variants:
        rows[name] = score(train(name, args), args)
        print(name, json.dumps(rows[name]), flush=True)
    base = rows.get("standard") or (
        json.loads((pathlib.Path(args.out) / "standard" / "heldout.json").read_text())
        if (pathlib.Path(args.out) / "standard" / "heldout.json").exists()
        else None
    )
    print(
        f"\n{args.dataset} l_inf {args.epsilon}, {args.epochs} epochs on {args.limit} images, "
        f"held-out {rows[args.variants[0]]['heldout']}\n"
    )
    print("| variant | options | clean | PGD-20 | APGD-CE | train s | time / standard |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        ratio = f"{r['train_seconds'] / base['train_seconds']:.2f}" if base else "-"
        method, options = VARIANTS[name]
        opts = ", ".join(f"{k}={v}" for k, v in options.items()) or "-"
        print(
            f"| {name} | {method}: {opts} | {100 * r['clean']:.1f} % | {100 * r['pgd20']:.1f} % | "
            f"{100 * r['apgd_ce']:.1f} % | {r['train_seconds']:.0f} | {ratio} |"
        )


if __name__ == "__main__":
    main()

"""Robust accuracy of trained runs on their held-out training images.

Chooses between settings without touching the test set: each run folder
trained with `--holdout N` kept its last N training images out of training,
and this script attacks exactly those images (at the run's threat model) with
stronger attacks than the PGD check that selected the run's epoch. It prints
one row per run with the standard error of each accuracy, and `--json` writes
them.

    python benchmarks/holdout_screen.py RUN [RUN ...] --data-dir DATA \\
        --attacks apgd_ce pgd:steps=40 --json screen.json
"""

import argparse
import json
import math
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.cli import evaluate as cli_evaluate  # noqa: E402
from keras_quadreg.cli.runs import RunFolder  # noqa: E402


def standard_error(accuracy, n):
    """The binomial standard error of an accuracy measured on `n` examples."""
    return math.sqrt(accuracy * (1.0 - accuracy) / n)


def screen(run, attacks, *, data_dir=None, batch_size=256, seed=0):
    """`{"run", "holdout", "clean", <attack>: accuracy, ..., "worst_case"}` on
    the run's held-out images."""
    folder = RunFolder(run)
    config = folder.read_json(folder.config)
    holdout = config.get("holdout") or 0
    if not holdout:
        raise ValueError(
            "Expected a run trained with --holdout N, whose last N training images "
            f"were kept out of training. Received: run={run} (holdout={holdout})"
        )
    built = [cli_evaluate.attack(spec) for spec in attacks]
    images = kq.data.load_arrays(config["dataset"], f"train[-{holdout}:]", data_dir=data_dir)
    report = kq.evaluate_robustness(
        folder.load_model(),
        images,
        config["epsilon"],
        config["norm"],
        attacks=built,
        num_examples=holdout,
        batch_size=batch_size,
        seed=seed,
        verbose=0,
    )
    row = {"run": str(run), "holdout": holdout, "clean": report.clean_accuracy}
    row.update({name: result.accuracy for name, result in report.attacks.items()})
    row["worst_case"] = report.worst_case_accuracy
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=pathlib.Path, help="run folders")
    parser.add_argument("--data-dir", default=None, help="raw dataset files (default: TFDS)")
    parser.add_argument(
        "--attacks", nargs="+", default=["apgd_ce"], help="attack specs, as `quadreg evaluate`"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="examples attacked together")
    parser.add_argument("--seed", type=int, default=0, help="seed of the attacks")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        row = screen(
            run, args.attacks, data_dir=args.data_dir, batch_size=args.batch_size, seed=args.seed
        )
        rows.append(row)
        n = row["holdout"]
        scores = "  ".join(
            f"{key} {100 * value:.1f} +- {100 * standard_error(value, n):.1f}"
            for key, value in row.items()
            if key not in ("run", "holdout")
        )
        print(f"{run}: {scores}  (n={n})", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

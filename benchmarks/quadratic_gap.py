"""How well the quadratic model predicts the adversarial loss of a trained model.

For each epsilon, on the first `--num-examples` test images of a run's
dataset, prints the mean clean loss, the worst case the quadratic model
predicts (`loss + q(delta_K)`, `kq.ops.worst_case_quadratic` with K = 1 and
K = 3 Frank-Wolfe iterations) and the loss PGD actually reaches (40 steps
of 2.5 epsilon / 40, random start), all measured in one run. A quadratic
regularizer can only make a model robust where its prediction tracks the
PGD loss; the ratio `pgd / predicted` says by how much it underestimates.

Usage:

    python benchmarks/quadratic_gap.py RUN [RUN ...] --epsilons 0.05 0.1 0.2 0.3
"""

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.cli.runs import RunFolder  # noqa: E402


def gap(model, x, y, epsilon, *, iterations=(1, 3), pgd_steps=40, seed=0):
    """Mean clean, predicted and PGD losses of `model` at one l_inf `epsilon`."""
    # The attacks' view of the model: logits in inference mode, whether the
    # model outputs logits or probabilities.
    model_fn, _ = kq.attacks.logits_function(model, sample=x[:32])

    def loss_fn(inputs):
        return keras.losses.sparse_categorical_crossentropy(y, model_fn(inputs), from_logits=True)

    clean = float(tf.reduce_mean(loss_fn(x)))
    row = {"epsilon": epsilon, "clean": clean}
    for k in iterations:
        _, value = kq.ops.worst_case_quadratic(
            loss_fn, x, epsilon=epsilon, norm="inf", iterations=k, clip_min=0.0, clip_max=1.0
        )
        row[f"predicted_k{k}"] = clean + float(tf.reduce_mean(value))
    threat = kq.ops.LinfBall(epsilon, clip_min=0.0, clip_max=1.0)
    x_adv = kq.ops.pgd(
        loss_fn,
        x,
        threat,
        steps=pgd_steps,
        step_size=2.5 * epsilon / pgd_steps,
        x_init=threat.random_init(x, seed),
    )
    row["pgd"] = float(tf.reduce_mean(loss_fn(x_adv)))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders of `quadreg train`")
    parser.add_argument("--data-dir", default=None, help="raw dataset files (see kq.data.load)")
    parser.add_argument("--epsilons", nargs="+", type=float, default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--num-examples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    rows = []
    for path in args.runs:
        run = RunFolder(path)
        dataset = run.read_json(run.config)["dataset"]
        x, y = kq.data.load_arrays(dataset, "test", data_dir=args.data_dir, limit=args.num_examples)
        model = keras.models.load_model(run.model)
        x, y = tf.constant(x), tf.constant(y, tf.int64)
        for epsilon in args.epsilons:
            rows.append(
                {"run": pathlib.Path(path).name, **gap(model, x, y, epsilon, seed=args.seed)}
            )

    print(
        "| run | epsilon | clean loss | predicted, K=1 | predicted, K=3 | PGD-40 loss | "
        "PGD / predicted K=3 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['run']} | {r['epsilon']:g} | {r['clean']:.3f} | {r['predicted_k1']:.3f} | "
            f"{r['predicted_k3']:.3f} | {r['pgd']:.3f} | {r['pgd'] / r['predicted_k3']:.1f} |"
        )
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()

"""Cost of one training step per objective and HVP method, relative to plain training.

Builds an MNIST network (the Madry et al. CNN, or with `--arch wong_cnn` the
small network of Wong et al. 2020) once per objective (same initial weights),
and times `train_on_batch` on one MNIST batch. Objectives are timed round-robin
over several rounds and each one's median step time is divided by the plain
step's median from the same run, so a noisy machine shifts all of them alike.
Peak memory is how far TensorFlow's allocator peak rises above what is
already allocated (weights, other models) during one step
(`tf.config.experimental.get_memory_info`), also as a ratio.

    python benchmarks/step_cost.py                      # batch 128, 3 rounds of 10 steps
    python benchmarks/step_cost.py --rounds 5 --jit     # XLA-compiled steps
    python benchmarks/step_cost.py --jit --only keras.Model   # cost of QuadRegModel's batch checks
    python benchmarks/step_cost.py --iterations 2 3 5 7      # the default at more Frank-Wolfe steps
"""

import argparse
import json
import os
import pathlib
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.data import idx  # noqa: E402

EPSILON = 0.3
BOX = dict(clip_min=0.0, clip_max=1.0)
# The paper's literal form: the quadratic expanded at x, its worst case penalized.
LITERAL = dict(expansion_point="input", objective="quadratic")


# The factory of the row timed as a plain `keras.Model`: the same network and
# loss without QuadRegModel's step, so its batch checks (validity flags under
# XLA, assertions otherwise) are what the "standard" row pays on top of it.
PLAIN = object()


def objectives(iterations=(2, 3)):
    """(label, HVP method or "-", regularizer factory); `iterations`: the
    Frank-Wolfe steps K of the default quadreg's rows."""
    rows = [("standard", "-", lambda: None), ("keras.Model, no batch checks", "-", lambda: PLAIN)]
    for literal_k in (1, 3):
        for hvp in kq.ops.HVP_METHODS:
            rows.append(
                (
                    f"quadreg literal K={literal_k}",
                    hvp,
                    lambda k=literal_k, h=hvp: kq.regularizers.QuadraticAdversarial(
                        EPSILON, iterations=k, hvp=h, **LITERAL, **BOX
                    ),
                )
            )
    for k in iterations:
        rows.append(
            (
                f"quadreg random, adversarial, K={k}",
                "secant",
                lambda k=k: kq.regularizers.QuadraticAdversarial(
                    EPSILON,
                    iterations=k,
                    hvp="secant",
                    expansion_point="random",
                    objective="adversarial",
                    seed=0,
                    **BOX,
                ),
            )
        )
    rows += [
        (
            "quadreg K=3 line search",
            "reverse_over_reverse",
            lambda: kq.regularizers.QuadraticAdversarial(
                EPSILON,
                iterations=3,
                step_rule="line_search",
                hvp="reverse_over_reverse",
                **LITERAL,
                **BOX,
            ),
        ),
        ("gradient norm", "-", lambda: kq.regularizers.GradientNorm()),
        ("CURE", "-", lambda: kq.regularizers.CURE()),
        ("FGSM-RS", "-", lambda: kq.regularizers.FGSMRandomStart(EPSILON, seed=0, **BOX)),
        ("N-FGSM", "-", lambda: kq.regularizers.NFGSM(EPSILON, seed=0, **BOX)),
        *(
            (
                f"PGD-{steps} AT",
                "-",
                lambda k=steps: kq.regularizers.PGDAdversarialTraining(
                    EPSILON, steps=k, seed=0, **BOX
                ),
            )
            for steps in (2, 3)
        ),
        (
            "PGD-10 AT",
            "-",
            lambda: kq.regularizers.PGDAdversarialTraining(EPSILON, steps=10, seed=0, **BOX),
        ),
        ("TRADES-10", "-", lambda: kq.regularizers.TRADES(EPSILON, steps=10, seed=0, **BOX)),
    ]
    return rows


def mnist_batch(data_dir, batch_size):
    root = pathlib.Path(data_dir) / "mnist"
    images = idx.read_images(root / "train-images-idx3-ubyte.gz", limit=batch_size)
    labels = idx.read_labels(root / "train-labels-idx1-ubyte.gz", limit=batch_size)
    return (
        tf.constant(images[..., None].astype("float32") / 255.0),
        tf.constant(labels.astype("int64")),
    )


ARCHITECTURES = {"madry_cnn": "Madry CNN", "wong_cnn": "Wong et al. CNN"}


def build(arch, regularizer, weights, jit):
    inputs, outputs = getattr(kq.architectures, arch)()
    if regularizer is PLAIN:
        model = keras.Model(inputs, outputs)
    else:
        model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer)
    model.set_weights(weights)
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    parser.add_argument("--steps", type=int, default=10, help="steps timed per round (default: 10)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds (default: 3)")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the steps (default: off)")
    parser.add_argument(
        "--arch",
        default="madry_cnn",
        choices=list(ARCHITECTURES),
        help="the network timed (default: madry_cnn)",
    )
    parser.add_argument(
        "--json",
        type=pathlib.Path,
        default=None,
        help="also write the rows to this JSON file (benchmarks/leaderboard.py reads it)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="TEXT",
        help="time only the objectives whose label contains one of these texts, besides standard "
        "training, the reference (default: every objective)",
    )
    parser.add_argument(
        "--iterations",
        nargs="+",
        type=int,
        default=[2, 3],
        metavar="K",
        help="Frank-Wolfe steps of the default quadreg's rows, one row each (default: 2 3; "
        "benchmarks/leaderboard.py costs an adaptive run's epochs from these rows)",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(
            "KERAS_QUADREG_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
        ),
        help="folder with mnist/*-ubyte.gz (default: $KERAS_QUADREG_DATA or ../shared/data)",
    )
    args = parser.parse_args(argv)
    if min(args.iterations) < 1 or len(set(args.iterations)) != len(args.iterations):
        parser.error(
            "Expected distinct --iterations >= 1. Received: --iterations "
            + " ".join(map(str, args.iterations))
        )
    keras.utils.set_random_seed(0)
    x, y = mnist_batch(args.data_dir, args.batch_size)
    weights = keras.Model(*getattr(kq.architectures, args.arch)()).get_weights()

    rows = objectives(args.iterations)
    if args.only:
        rows = [rows[0]] + [row for row in rows[1:] if any(text in row[0] for text in args.only)]
        if len(rows) == 1:
            parser.error(
                f"no objective's label contains any of {args.only}. Received: --only "
                f"{' '.join(args.only)}"
            )
    models, peaks = [], []
    for _, _, factory in rows:
        model = build(args.arch, factory(), weights, args.jit)
        model.train_on_batch(x, y)  # trace (and compile)
        model.train_on_batch(x, y)
        tf.config.experimental.reset_memory_stats("CPU:0")
        resident = tf.config.experimental.get_memory_info("CPU:0")["current"]
        model.train_on_batch(x, y)
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
        peaks.append((peak - resident) / 2**20)
        models.append(model)

    times = [[] for _ in rows]
    for _ in range(args.rounds):
        for i, model in enumerate(models):
            start = time.perf_counter()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            times[i].append((time.perf_counter() - start) / args.steps)
    medians = [statistics.median(t) for t in times]

    print(
        f"{ARCHITECTURES[args.arch]} ({models[0].count_params():,} parameters), "
        f"MNIST batch {args.batch_size}, "
        f"epsilon {EPSILON} l_inf, {'XLA' if args.jit else 'graph'} mode, "
        f"median of {args.rounds} rounds x {args.steps} steps, "
        f"{tf.config.threading.get_inter_op_parallelism_threads() or os.cpu_count()} CPU threads\n"
    )
    print("| objective | HVP | ms / step | time ratio | step peak MiB | memory ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    table = [
        {
            "objective": label,
            "hvp": hvp,
            "ms_per_step": 1000 * median,
            "time_ratio": median / medians[0],
            "peak_mib": peak,
            "memory_ratio": peak / peaks[0],
        }
        for (label, hvp, _), median, peak in zip(rows, medians, peaks, strict=True)
    ]
    for row in table:
        print(
            f"| {row['objective']} | {row['hvp']} | {row['ms_per_step']:.1f} | "
            f"{row['time_ratio']:.2f} | {row['peak_mib']:.1f} | {row['memory_ratio']:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Cost of robustness evaluation relative to one clean evaluation pass.

Times, on `--num-examples` MNIST test images from index `--first-example`
(0 by default) and in one run:
one clean pass (the median of `--repeats` compiled passes), PGD-20 and the
AutoAttack set (`kq.attacks.AutoAttack(backend="art")`), each including
classifying its results, and reports each as a multiple of the clean pass.
Unless `--no-native`, it also runs the native TensorFlow components
(`kq.attacks.APGDCE`, `APGDT`, `FABT`, `Square`) of `--components` the
same way AutoAttack does, each on the examples still robust, on the same
model and images, and reports their times, robust accuracies and time
ratios to ART's components (native FAB-T against ART's DeepFool, which
stands in for it in ART's set).
Attack times include tracing their compiled functions, as a user pays it;
the time of PGD-20 on a single example (after a warm-up run) shows what
that tracing costs.

The model is a normally trained Madry-style CNN (`--filters`,
`--dense-units`) trained here for `--epochs` on `--train-examples` images,
or a saved Keras model (`--model-path`, inputs in [0, 1], logits out).
AutoAttack's cost depends on how many examples survive its first
component: on a non-robust model the later components have little to do,
so the script also records how many examples each component attacked.

Usage:

    nice -n 10 python benchmarks/eval_cost.py --num-examples 1000
    python benchmarks/eval_cost.py --num-examples 100 --components apgd_ce apgd_t
    # A long measurement in two parts, each one run:
    python benchmarks/eval_cost.py --num-examples 500 --model-path model.keras
    python benchmarks/eval_cost.py --num-examples 500 --first-example 500 --model-path model.keras
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.attacks import AutoAttack  # noqa: E402
from keras_quadreg.attacks._runner import Predictor  # noqa: E402
from keras_quadreg.attacks.autoattack import ART_STANDARD, STANDARD  # noqa: E402
from keras_quadreg.data import idx  # noqa: E402

# ART's component in the place of each native one (DeepFool for FAB-T).
ART_COMPONENT = dict(zip(STANDARD, ART_STANDARD))
# The native versions of AutoAttack's components, from the script's arguments.
NATIVE = {
    "apgd_ce": lambda args: kq.attacks.APGDCE(steps=args.steps),
    "apgd_t": lambda args: kq.attacks.APGDT(steps=args.steps),
    "fab_t": lambda args: kq.attacks.FABT(steps=args.steps),
    "square": lambda args: kq.attacks.Square(queries=args.square_queries),
}

DATA = pathlib.Path(os.environ.get("KERAS_QUADREG_DATA", REPO.parent / "shared" / "data"))


def _images(name, limit):
    root = DATA / "mnist"
    x = idx.read_images(root / f"{name}-images-idx3-ubyte.gz", limit)
    y = idx.read_labels(root / f"{name}-labels-idx1-ubyte.gz", limit)
    return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int64)


def _model(args):
    if args.model_path:
        return keras.models.load_model(args.model_path), f"loaded from {args.model_path}"
    keras.utils.set_random_seed(args.seed)
    x, y = _images("train", args.train_examples)
    inputs, outputs = kq.architectures.madry_cnn(
        filters=tuple(args.filters), dense_units=args.dense_units
    )
    model = keras.Model(inputs, outputs)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=args.epochs, verbose=0)
    return model, (
        f"madry_cnn(filters={tuple(args.filters)}, dense_units={args.dense_units}), trained "
        f"normally for {args.epochs} epochs on {args.train_examples} images, seed {args.seed}"
    )


def native_components(model_fn, predict, x, y, threat, args):
    """Runs the native components of `args.components` in the standard order,
    each on the examples still robust, as AutoAttack does."""
    robust = predict(x) == y
    components = {}
    for name in args.components:
        if name not in NATIVE:
            continue
        index = np.flatnonzero(robust)
        start = time.perf_counter()
        if len(index):
            x_adv = NATIVE[name](args).generate(
                model_fn, x[index], y[index], threat, seed=args.seed, batch_size=args.batch_size
            )
            robust[index] = predict(x_adv) == y[index]
        components[name] = {
            "examples_attacked": len(index),
            "examples_broken": len(index) - int(robust[index].sum()),
            "robust_accuracy_after": float(robust.mean()),
            "seconds": time.perf_counter() - start,
        }
    return components, float(robust.mean())


def measure(args):
    model, description = _model(args)
    x, y = _images("t10k", args.first_example + args.num_examples)
    x, y = x[args.first_example :], y[args.first_example :]
    model_fn, _ = kq.attacks.logits_function(model, from_logits=True)
    predict = Predictor(model_fn, args.batch_size)
    predict(x)  # traces
    passes = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        predict(x)
        passes.append(time.perf_counter() - start)
    clean = statistics.median(passes)
    # Tracing, which every run of an attack pays once: PGD-20 on one example,
    # after a first run has paid the one-off costs (autograph conversion).
    threat = kq.ops.threat_model(args.epsilon, "inf", 0.0, 1.0)
    for _ in range(2):
        start = time.perf_counter()
        kq.attacks.PGD(steps=20).generate(model_fn, x[:1], y[:1], threat, seed=args.seed)
        pgd_one_example = time.perf_counter() - start
    attacks = [
        kq.attacks.PGD(steps=20, name="pgd20"),
        AutoAttack(
            components=[ART_COMPONENT[c] for c in args.components],
            steps=args.steps,
            square_queries=args.square_queries,
            backend="art",
        ),
    ]
    report = kq.evaluate_robustness(
        model,
        (x, y),
        args.epsilon,
        norm="inf",
        attacks=attacks,
        batch_size=args.batch_size,
        seed=args.seed,
        from_logits=True,
        verbose=args.verbose,
    )
    native = None
    if args.native:
        components, robust_accuracy = native_components(model_fn, predict, x, y, threat, args)
        art = report.attacks["autoattack"].details
        for name, component in components.items():
            component["ratio_to_clean_pass"] = component["seconds"] / clean
            component["ratio_to_art"] = component["seconds"] / art[ART_COMPONENT[name]]["seconds"]
        seconds = sum(c["seconds"] for c in components.values())
        art_seconds = sum(art[ART_COMPONENT[name]]["seconds"] for name in components)
        native = {
            "components": components,
            "seconds": seconds,
            "ratio_to_clean_pass": seconds / clean,
            "art_seconds_same_components": art_seconds,
            "ratio_to_art": seconds / art_seconds,
            "robust_accuracy": robust_accuracy,
        }
    return {
        "model": description,
        "first_example": args.first_example,
        "num_examples": len(x),
        "epsilon": args.epsilon,
        "batch_size": args.batch_size,
        "clean_pass_seconds": clean,
        "clean_pass_seconds_all": passes,
        "clean_accuracy": report.clean_accuracy,
        "pgd20_one_example_seconds": pgd_one_example,
        "attacks": {
            name: {
                "seconds": result.seconds,
                "ratio_to_clean_pass": result.seconds / clean,
                "robust_accuracy": result.accuracy,
                "config": result.config,
                "details": result.details,
            }
            for name, result in report.attacks.items()
        },
        "worst_case_accuracy": report.worst_case_accuracy,
        "native": native,
        "versions": report.versions,
    }


def to_markdown(result):
    lines = [
        f"Model: {result['model']}. {result['num_examples']} MNIST test images (from index "
        f"{result['first_example']}), l_inf "
        f"epsilon = {result['epsilon']}, batch size {result['batch_size']}; clean accuracy "
        f"{100 * result['clean_accuracy']:.1f} %.",
        "",
        "| evaluation | seconds | x clean pass | accuracy |",
        "| --- | ---: | ---: | ---: |",
        f"| clean pass (median of {len(result['clean_pass_seconds_all'])}) | "
        f"{result['clean_pass_seconds']:.3f} | 1 | {100 * result['clean_accuracy']:.1f} % |",
    ]
    for name, a in result["attacks"].items():
        lines.append(
            f"| {name} | {a['seconds']:.1f} | {a['ratio_to_clean_pass']:.0f} | "
            f"{100 * a['robust_accuracy']:.1f} % |"
        )
    lines.append(
        f"| pgd20 on 1 example (its tracing) | {result['pgd20_one_example_seconds']:.1f} | "
        f"{result['pgd20_one_example_seconds'] / result['clean_pass_seconds']:.0f} | |"
    )
    for name, a in result["attacks"].items():
        for component, d in (a["details"] or {}).items():
            lines.append(
                f"| {name}: {component} ({d['examples_attacked']} attacked) | "
                f"{d['seconds']:.1f} | {d['seconds'] / result['clean_pass_seconds']:.0f} | "
                f"{100 * d['robust_accuracy_after']:.1f} % |"
            )
    native = result["native"]
    if native:
        for component, d in native["components"].items():
            lines.append(
                f"| native {component} ({d['examples_attacked']} attacked; "
                f"{d['ratio_to_art']:.2f}x ART's time) | {d['seconds']:.1f} | "
                f"{d['ratio_to_clean_pass']:.0f} | {100 * d['robust_accuracy_after']:.1f} % |"
            )
        lines.append(
            f"| native {' + '.join(native['components'])} ({native['ratio_to_art']:.2f}x "
            f"ART's {native['art_seconds_same_components']:.1f} s) | "
            f"{native['seconds']:.1f} | {native['ratio_to_clean_pass']:.0f} | "
            f"{100 * native['robust_accuracy']:.1f} % |"
        )
    return "\n".join(lines)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-examples", type=int, default=1000)
    parser.add_argument(
        "--first-example",
        type=int,
        default=0,
        help="index of the first test image, to measure a long run in parts",
    )
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--components", nargs="+", default=list(STANDARD), choices=STANDARD)
    parser.add_argument("--steps", type=int, default=100, help="APGD and DeepFool iterations")
    parser.add_argument("--square-queries", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=20, help="clean passes timed")
    parser.add_argument("--model-path", default=None)
    parser.add_argument("--train-examples", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--filters", type=int, nargs=2, default=[8, 16])
    parser.add_argument("--dense-units", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--native",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the native components (default: yes)",
    )
    parser.add_argument("--verbose", type=int, default=0, choices=[0, 1])
    parser.add_argument("--output", default=None, help="JSON file for the results")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    result = measure(args)
    print(to_markdown(result))
    if args.output:
        path = pathlib.Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()

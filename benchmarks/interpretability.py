r"""Interpretability of a standard vs a quadratically regularized MNIST model.

Trains on the full MNIST training set, with the same architecture, optimizer
and seed: a standard model and a `QuadraticAdversarial` model; and, with the
next seed, an independent standard model that serves as the reference of the
counterfactual transfer score. Then writes to `--out`:

- `table.md`: `kq.explain.interpretability_scores` of both models on the first
  `--test-size` test images (saliency of the true class; counterfactuals
  toward every other class in an l2 ball of `--cf-epsilon`);
- `compare.png`: maps and runner-up counterfactuals of both models side by
  side (`kq.explain.compare`) for the first 8 test images, true classes;
- `classes_<model>.png`: each model's class visualizations grown from the
  mean training image;
- `run.json`: settings, test accuracies and timings;
- `<model>.keras`: the three models, which `--models-from` reloads to score
  them again (e.g. with another `--cf-epsilon`) without training.

    python benchmarks/interpretability.py --out /tmp/interpretability
    python benchmarks/interpretability.py --out /tmp/i4 --models-from /tmp/interpretability \
        --cf-epsilon 4
    python benchmarks/interpretability.py --out /tmp/i --epochs 1 --train-size 5000 --test-size 100
"""

import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.data import idx  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_mnist(data_dir, train_size):
    root = pathlib.Path(data_dir) / "mnist"

    def images(name, limit=None):
        return (idx.read_images(root / name, limit=limit)[..., None] / 255.0).astype(np.float32)

    def labels(name, limit=None):
        return idx.read_labels(root / name, limit=limit).astype(np.int64)

    return (
        (
            images("train-images-idx3-ubyte.gz", train_size),
            labels("train-labels-idx1-ubyte.gz", train_size),
        ),
        (images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")),
    )


def evaluate(model, data):
    _, (x_test, y_test) = data
    return model.evaluate(x_test, y_test, batch_size=500, verbose=0, return_dict=True)["accuracy"]


def train(name, regularizer, data, args, seed):
    """Trains `name`, or loads it from `--models-from`; saves it to `--out`."""
    if args.models_from:
        model = keras.models.load_model(pathlib.Path(args.models_from) / f"{name}.keras")
        accuracy = evaluate(model, data)
        print(f"{name}: loaded, test accuracy {accuracy:.4f}", flush=True)
        return model, {"test_accuracy": accuracy, "loaded_from": args.models_from}
    (x_train, y_train), _ = data
    keras.utils.set_random_seed(seed)
    inputs, outputs = kq.architectures.madry_cnn(
        filters=tuple(args.filters), dense_units=args.dense_units
    )
    model = kq.QuadRegModel(inputs, outputs, regularizer=regularizer, name=name)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    accuracy = evaluate(model, data)
    print(f"{name}: test accuracy {accuracy:.4f}, trained in {seconds:.0f} s", flush=True)
    model.save(pathlib.Path(args.out) / f"{name}.keras")
    return model, {"test_accuracy": accuracy, "train_seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="folder for the table, figures and run.json")
    parser.add_argument("--data", default=str(DATA), help="folder holding mnist/*-ubyte.gz")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--train-size", type=int, default=None, help="training images (default: all 60000)"
    )
    parser.add_argument(
        "--test-size", type=int, default=500, help="test images scored (default: 500)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--filters", type=int, nargs=2, default=[16, 32])
    parser.add_argument("--dense-units", type=int, default=256)
    parser.add_argument("--norm", default="2", help='threat model of the regularizer: "2" or "inf"')
    parser.add_argument(
        "--epsilon", type=float, default=2.0, help="radius of the regularizer's ball"
    )
    parser.add_argument(
        "--cf-epsilon", type=float, default=2.0, help="l2 radius of the counterfactuals"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--models-from", default=None, help="folder of a previous run's .keras models to reuse"
    )
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = load_mnist(args.data, args.train_size)
    (x_train, _), (x_test, y_test) = data
    regularizer = kq.regularizers.QuadraticAdversarial(
        epsilon=args.epsilon, norm=args.norm, clip_min=0.0, clip_max=1.0
    )
    standard, standard_run = train("standard", None, data, args, args.seed)
    quadreg, quadreg_run = train("quadreg", regularizer, data, args, args.seed)
    reference, reference_run = train("reference", None, data, args, args.seed + 1)
    models = {"standard": standard, "quadreg": quadreg}

    start = time.perf_counter()
    table = kq.explain.interpretability_scores(
        models,
        (x_test, y_test),
        reference_model=reference,
        counterfactual_epsilon=args.cf_epsilon,
        counterfactual_norm=2,
        max_examples=args.test_size,
        seed=args.seed,
    )
    score_seconds = time.perf_counter() - start
    (out / "table.md").write_text(table.to_markdown() + "\n")
    print(table, flush=True)

    kq.explain.compare(
        models, x_test[:8], classes=y_test[:8], epsilon=args.cf_epsilon, norm=2, seed=args.seed
    ).save(out / "compare.png")
    for name, model in models.items():
        kq.explain.class_visualizations(model, start="mean", images=x_train[:1000]).save(
            out / f"classes_{name}.png"
        )

    run = {
        "settings": vars(args),
        "regularizer": kq.regularizers.serialize(regularizer),
        "models": {"standard": standard_run, "quadreg": quadreg_run, "reference": reference_run},
        "score_seconds": score_seconds,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    print(f"scores in {score_seconds:.0f} s; wrote {out}", flush=True)


if __name__ == "__main__":
    main()

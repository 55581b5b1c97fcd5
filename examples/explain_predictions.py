"""Explain a robust model's predictions, and compare with a standard model.

Trains a standard CNN and a `QuadraticAdversarial` CNN on MNIST (or loads
them), then writes to `--out`:

- `explanations.png`: for each image, its saliency maps (vanilla gradients,
  SmoothGrad, integrated gradients, Grad-CAM) and a counterfactual: the
  smallest change (l_2 ball) that makes the robust model see another class;
- `counterfactuals.png`: each image pushed toward every class ("what would
  make this a 7?");
- `compare.png`: both models side by side;
- `scores.md`: the interpretability metrics of both (deletion/insertion AUC,
  saliency on the digit, counterfactual success, and transfer to an
  independently trained standard model).

MNIST comes from TFDS (downloaded once), or offline from the raw files in
`--data-dir` (default: `$KERAS_QUADREG_DATA`).

    python examples/explain_predictions.py --out explanations/
"""

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_quadreg as kq  # noqa: E402


def train(regularizer, data, epochs, seed):
    keras.utils.set_random_seed(seed)
    model = kq.QuadRegModel(
        *kq.architectures.madry_cnn(filters=(16, 32), dense_units=256), regularizer=regularizer
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(data, epochs=epochs, shuffle=False, verbose=2)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("KERAS_QUADREG_DATA"))
    parser.add_argument("--out", required=True, help="folder for the figures and the table")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--images", type=int, default=6, help="test images explained")
    parser.add_argument("--score-examples", type=int, default=256, help="test images scored")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = kq.data.load("mnist", "train", 128, data_dir=args.data_dir, limit=args.limit)
    standard = train(None, data, args.epochs, seed=0)
    reference = train(None, data, args.epochs, seed=1)  # independent, for the transfer score
    robust = train(
        kq.regularizers.QuadraticAdversarial(
            epsilon=2.0, norm=2, clip_min=0.0, clip_max=1.0, seed=0
        ),
        data,
        args.epochs,
        seed=0,
    )
    x, y = kq.data.load_arrays("mnist", "test", data_dir=args.data_dir, limit=args.score_examples)
    images, labels = x[: args.images], y[: args.images]

    kq.explain(robust, images, classes=labels, seed=0).save(str(out / "explanations.png"))
    kq.explain.counterfactuals(robust, images, target_classes="all", epsilon=2.0, norm=2).save(
        str(out / "counterfactuals.png")
    )
    kq.explain.compare({"standard": standard, "quadreg": robust}, images, classes=labels).save(
        str(out / "compare.png")
    )
    table = kq.explain.interpretability_scores(
        {"standard": standard, "quadreg": robust}, (x, y), reference_model=reference
    )
    (out / "scores.md").write_text(table.to_markdown() + "\n")
    print(table.to_markdown())
    return table


if __name__ == "__main__":
    main()

"""Train a robust MNIST classifier with the quadratic adversarial regularizer.

Trains the Madry et al. CNN with `QuadraticAdversarial` (l_inf, epsilon 0.3,
K Frank-Wolfe iterations), then attacks it with FGSM, PGD and MIM and prints
the robustness report. Reads the raw MNIST files from `--data-dir` (or
$KERAS_QUADREG_DATA) when they are there, else downloads MNIST with TFDS.

    python examples/mnist_quadreg.py
    python examples/mnist_quadreg.py --data-dir path/to/raw_files  # offline
    python examples/mnist_quadreg.py --iterations 3 --epochs 10 --save robust.keras
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_quadreg as kq  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("KERAS_QUADREG_DATA"))
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument("--iterations", type=int, default=2, help="Frank-Wolfe iterations K")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--num-examples", type=int, default=1000, help="test images attacked")
    parser.add_argument(
        "--small", action="store_true", help="a 4x cheaper CNN (16/32 filters, 128 units)"
    )
    parser.add_argument("--save", default=None, help="where to save the model (.keras)")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)

    train = kq.data.load("mnist", "train", 128, data_dir=args.data_dir, limit=args.limit)
    test = kq.data.load("mnist", "test", 500, data_dir=args.data_dir, limit=args.num_examples)
    size = dict(filters=(16, 32), dense_units=128) if args.small else {}
    model = kq.QuadRegModel(
        *kq.architectures.madry_cnn(**size),
        regularizer=kq.regularizers.QuadraticAdversarial(
            epsilon=args.epsilon,
            norm="inf",
            iterations=args.iterations,
            clip_min=0.0,
            clip_max=1.0,
            seed=0,
        ),
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(train, validation_data=test, epochs=args.epochs, shuffle=False, verbose=2)
    if args.save:
        model.save(args.save)

    report = kq.evaluate_robustness(
        model,
        test,
        args.epsilon,
        "inf",
        attacks=["fgsm", kq.attacks.PGD(steps=40), "mim"],
        num_examples=args.num_examples,
        seed=0,
    )
    print(report.to_markdown())
    return report


if __name__ == "__main__":
    main()

"""Compare the quadratic regularizer with gradient and curvature regularization.

Trains the same network from the same initial weights with no regularizer,
the dual-norm gradient penalty `epsilon ||g||_1`, CURE along the FGSM
direction, `QuadraticAdversarial` in the paper's literal form with K = 1 and
3, and `QuadraticAdversarial` with its defaults (secant curvature, a random
expansion point, training on the quadratic's worst case), then evaluates each
with PGD-40 on the same test images and prints one table. The first-order
part of the literal quadratic regularizer *is* the gradient penalty, and
CURE's finite difference probes the curvature along the same direction, so
the comparison isolates what the second-order term, the iterations and the
study's changes add.

For every baseline, more attacks and a run folder per method, use
`quadreg compare` instead. MNIST comes from TFDS (downloaded once), or
offline from the raw files in `--data-dir` (default: `$KERAS_QUADREG_DATA`).

    python examples/compare_regularizers.py --epochs 3
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_quadreg as kq  # noqa: E402


def regularizers(epsilon):
    box = dict(clip_min=0.0, clip_max=1.0)
    literal = dict(expansion_point="input", objective="quadratic", hvp="reverse_over_reverse")
    return {
        "standard": None,
        "gradient norm": kq.regularizers.GradientNorm(weight=epsilon, norm=1, squared=False),
        "CURE": kq.regularizers.CURE(
            weight=1.0, h=epsilon * 28
        ),  # h z = epsilon sign(g) on 28x28 images
        "quadreg literal K=1": kq.regularizers.QuadraticAdversarial(
            epsilon, iterations=1, **literal, **box
        ),
        "quadreg literal K=3": kq.regularizers.QuadraticAdversarial(
            epsilon, iterations=3, **literal, **box
        ),
        "quadreg": kq.regularizers.QuadraticAdversarial(epsilon, seed=0, **box),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("KERAS_QUADREG_DATA"))
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--num-examples", type=int, default=1000, help="test images attacked")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    train = kq.data.load("mnist", "train", 128, data_dir=args.data_dir, limit=args.limit)
    test = kq.data.load_arrays("mnist", "test", data_dir=args.data_dir, limit=args.num_examples)
    initial = keras.Model(
        *kq.architectures.madry_cnn(filters=(16, 32), dense_units=128)
    ).get_weights()

    rows = []
    for name, regularizer in regularizers(args.epsilon).items():
        model = kq.QuadRegModel(
            *kq.architectures.madry_cnn(filters=(16, 32), dense_units=128), regularizer=regularizer
        )
        model.set_weights(initial)
        model.compile(
            "adam",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        start = time.perf_counter()
        model.fit(train, epochs=args.epochs, shuffle=False, verbose=0)
        seconds = time.perf_counter() - start
        report = kq.evaluate_robustness(
            model,
            test,
            args.epsilon,
            attacks=[kq.attacks.PGD(steps=40)],
            num_examples=args.num_examples,
            verbose=0,
        )
        rows.append((name, report.clean_accuracy, report.attacks["pgd"].accuracy, seconds))
        print(
            f"{name}: clean {report.clean_accuracy:.3f}, PGD-40 "
            f"{report.attacks['pgd'].accuracy:.3f}, {seconds:.0f} s"
        )

    print("\n| method | clean | PGD-40 | training time (s) |\n| --- | ---: | ---: | ---: |")
    for name, clean, robust, seconds in rows:
        print(f"| {name} | {100 * clean:.1f} % | {100 * robust:.1f} % | {seconds:.0f} |")
    return rows


if __name__ == "__main__":
    main()

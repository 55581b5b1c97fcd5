"""PreAct ResNet-18 on CIFAR-10 with the quadratic regularizer, K = 3.

The setting of the authors' published checkpoint (`cifar_Linf_FE_N3`): l_inf,
epsilon 8/255, three Frank-Wolfe iterations; their notebook reports 81.2 %
clean and 51.8 % PGD-20 accuracy (step 1.5 epsilon / 20) on 500 test
images. This script trains with SGD (Nesterov momentum 0.9, no weight decay,
learning rate divided by 10 at half and at three quarters of training) on
randomly cropped and flipped images, then evaluates with that PGD-20. It reads the CIFAR-10 binary
files (`cifar-10-binary.tar.gz` or `cifar-10-batches-bin/`) from
`--data-dir/cifar10/`, else TFDS. A full run needs a GPU; on a CPU use
`--limit` and few `--epochs` to try it.

    python examples/cifar10_resnet18.py --data-dir data --epochs 30 --save cifar_quadreg.keras
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_quadreg as kq  # noqa: E402

EPSILON = 8 / 255


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("KERAS_QUADREG_DATA"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate")
    parser.add_argument("--iterations", type=int, default=3, help="Frank-Wolfe iterations K")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--num-examples", type=int, default=500, help="test images attacked")
    parser.add_argument(
        "--width", type=int, default=64, help="ResNet width (64 is the standard network)"
    )
    parser.add_argument("--save", default=None, help="where to save the model (.keras)")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)

    train = kq.data.load(
        "cifar10", "train", args.batch_size, data_dir=args.data_dir, limit=args.limit, augment=True
    )
    test = kq.data.load("cifar10", "test", 250, data_dir=args.data_dir, limit=args.num_examples)
    model = kq.QuadRegModel(
        *kq.architectures.preact_resnet18(width=args.width),
        regularizer=kq.regularizers.QuadraticAdversarial(
            EPSILON, norm="inf", iterations=args.iterations, clip_min=0.0, clip_max=1.0, seed=0
        ),
    )
    steps = args.epochs * int(train.cardinality())
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [steps // 2, 3 * steps // 4], [args.lr, args.lr / 10, args.lr / 100]
    )
    model.compile(
        keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train, validation_data=test, epochs=args.epochs, shuffle=False, verbose=2)
    if args.save:
        model.save(args.save)
    pgd20 = kq.attacks.PGD(steps=20, relative_step_size=1.5 / 20, random_start=False)
    report = kq.evaluate_robustness(
        model, test, EPSILON, attacks=[pgd20], num_examples=args.num_examples, seed=0
    )
    print(report.to_markdown())
    return report


if __name__ == "__main__":
    main()

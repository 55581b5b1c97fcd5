"""Per-example cost of the model passes AutoAttack makes, native against ART's.

The native AutoAttack calls the model inside compiled TensorFlow loops; ART's
set calls it through `TensorFlowV2Classifier.predict` and `.loss_gradient`
from NumPy loops. For each `--batch-sizes` this times, on one model and the
same random inputs, a forward pass and a forward-and-backward pass (the input
gradient of the cross-entropy) both ways, round robin in one process (the
median of `--rounds` rounds, so that load on the machine hits every variant
alike), and prints milliseconds per example and the native / ART ratios.

The ratio at a batch size bounds what the native set can gain over ART's by
running the same passes faster; how those ratios move with the batch size
tells whether a larger batch favours one backend.

Usage:

    python benchmarks/pass_cost.py --model-path runs/x/model.keras
    python benchmarks/pass_cost.py --model-path runs/x/model.keras --batch-sizes 128 512
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.attacks.autoattack_art import _ARTModel  # noqa: E402


def _native(model_fn):
    @tf.function
    def forward(x, y):
        return model_fn(x)

    @tf.function
    def gradient(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y, model_fn(x))
        return tape.gradient(loss, x)

    return {
        "forward": lambda x, y: forward(tf.constant(x), tf.constant(y)).numpy(),
        "forward+backward": lambda x, y: gradient(tf.constant(x), tf.constant(y)).numpy(),
    }


def _art(model_fn, shape, num_classes):
    from art.estimators.classification import TensorFlowV2Classifier

    estimator = TensorFlowV2Classifier(
        model=_ARTModel(model_fn),
        nb_classes=num_classes,
        input_shape=shape,
        loss_object=keras.losses.CategoricalCrossentropy(from_logits=True),
        clip_values=(0.0, 1.0),
    )
    one_hot = np.eye(num_classes, dtype=np.float32)
    return {
        "forward": lambda x, y: estimator.predict(x, batch_size=len(x)),
        "forward+backward": lambda x, y: estimator.loss_gradient(x, one_hot[y]),
    }


def measure(args):
    model = keras.models.load_model(args.model_path)
    model_fn, _ = kq.attacks.logits_function(model, from_logits=True)
    shape = tuple(model.input_shape[1:])
    rng = np.random.default_rng(args.seed)
    size = max(args.batch_sizes)
    x = rng.uniform(0.0, 1.0, (size, *shape)).astype(np.float32)
    num_classes = int(model_fn(tf.constant(x[:1])).shape[-1])
    y = rng.integers(0, num_classes, size)
    backends = {"native": _native(model_fn), "art": _art(model_fn, shape, num_classes)}
    rows = []
    for batch in args.batch_sizes:
        xb, yb = x[:batch], y[:batch]
        calls = max(1, args.examples // batch)
        variants = [(b, p) for b in backends for p in backends[b]]
        for backend, passes in variants:
            backends[backend][passes](xb, yb)  # traces
        times = {variant: [] for variant in variants}
        for _ in range(args.rounds):
            for backend, passes in variants:
                start = time.perf_counter()
                for _ in range(calls):
                    backends[backend][passes](xb, yb)
                times[(backend, passes)].append((time.perf_counter() - start) / (calls * batch))
        for passes in ("forward", "forward+backward"):
            native = 1e3 * statistics.median(times[("native", passes)])
            art = 1e3 * statistics.median(times[("art", passes)])
            rows.append(
                {
                    "batch_size": batch,
                    "passes": passes,
                    "native_ms": native,
                    "art_ms": art,
                    "ratio": native / art,
                }
            )
    return rows


def to_markdown(rows):
    lines = [
        "| batch | passes | native ms / example | ART ms / example | native / ART |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['batch_size']} | {r['passes']} | {r['native_ms']:.3f} | "
            f"{r['art_ms']:.3f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-path", required=True, help="a saved Keras model, logits out")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument(
        "--examples",
        type=int,
        default=2048,
        help="examples per timed call sequence, per variant and round",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    rows = measure(parse(argv))
    print(to_markdown(rows))
    return rows


if __name__ == "__main__":
    main()

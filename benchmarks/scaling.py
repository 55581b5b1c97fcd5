"""Step time of QuadRegModel on 1 and 2 replicas (logical CPU devices).

Weak scaling keeps the per-replica batch fixed (1 replica: B, 2 replicas: 2B
global), so its efficiency `t(1 replica, B) / t(2 replicas, 2B)` is 1.0 when
a second replica doubles throughput for free. Strong scaling keeps the global
batch fixed, and its speedup is `t(1 replica, 2B) / t(2 replicas, 2B)`. All
configurations are timed round-robin in one process, median of the rounds.

On a machine whose replicas share the same CPU cores (logical devices), the
figures measure the overhead of tf.distribute (all-reduce, per-replica
dispatch), not added hardware.

    python benchmarks/scaling.py                    # per-replica batch 64
    python benchmarks/scaling.py --per-replica-batch 128 --rounds 5
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

# Two logical CPU devices; must happen before TensorFlow starts.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_quadreg as kq  # noqa: E402

OBJECTIVES = {
    "standard": lambda: None,
    "quadreg K=1": lambda: kq.regularizers.QuadraticAdversarial(0.3, clip_min=0.0, clip_max=1.0),
    "quadreg K=3": lambda: kq.regularizers.QuadraticAdversarial(
        0.3, iterations=3, clip_min=0.0, clip_max=1.0
    ),
    "PGD-10 AT": lambda: kq.regularizers.PGDAdversarialTraining(
        0.3, steps=10, clip_min=0.0, clip_max=1.0, seed=0
    ),
}


def build(devices, regularizer, weights):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = kq.QuadRegModel(*kq.architectures.madry_cnn(), regularizer=regularizer)
        model.set_weights(weights)
        model.compile(
            keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--per-replica-batch", type=int, default=64, help="per-replica batch B (default: 64)"
    )
    parser.add_argument("--steps", type=int, default=5, help="steps timed per round (default: 5)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds (default: 3)")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    weights = keras.Model(*kq.architectures.madry_cnn()).get_weights()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    b = args.per_replica_batch
    rng = np.random.default_rng(0)
    data = {
        n: (rng.random((n, 28, 28, 1)).astype("float32"), rng.integers(0, 10, n))
        for n in (b, 2 * b)
    }
    # (objective, replicas, global batch) -> model
    setups = {}
    for name, factory in OBJECTIVES.items():
        for replicas, batch in ((1, b), (1, 2 * b), (2, 2 * b)):
            model = build(cpus[:replicas], factory(), weights)
            dataset = tf.data.Dataset.from_tensor_slices(data[batch]).batch(batch).repeat()
            iterator = iter(model.distribute_strategy.experimental_distribute_dataset(dataset))
            model.make_train_function()
            for _ in range(2):  # trace
                model.train_function(iterator)
            setups[name, replicas, batch] = (model, iterator)
    times = {key: [] for key in setups}
    for _ in range(args.rounds):
        for key, (model, iterator) in setups.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                model.train_function(iterator)
            times[key].append((time.perf_counter() - start) / args.steps)
    median = {key: statistics.median(t) for key, t in times.items()}
    print(
        f"Madry CNN, per-replica batch B={b}, logical CPU devices sharing {os.cpu_count()} cores, "
        f"median of {args.rounds} rounds x {args.steps} steps\n"
    )
    print(
        "| objective | 1 replica, B (ms) | 1 replica, 2B (ms) | 2 replicas, 2B (ms) | "
        "weak-scaling efficiency | strong-scaling speedup |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in OBJECTIVES:
        one, one_big, two = (median[name, r, n] for r, n in ((1, b), (1, 2 * b), (2, 2 * b)))
        print(
            f"| {name} | {1000 * one:.0f} | {1000 * one_big:.0f} | {1000 * two:.0f} | "
            f"{one / two:.2f} | {one_big / two:.2f} |"
        )


if __name__ == "__main__":
    main()

"""Train a QuadRegModel with tf.distribute, and resume it after a crash.

One machine, every GPU (or, without GPUs, N logical CPU devices):

    python examples/distributed_training.py --cpu-replicas 2

MNIST comes from TFDS (downloaded once), or offline from the raw files in
`--data-dir` (default: `$KERAS_QUADREG_DATA`).

Several machines (MultiWorkerMirroredStrategy): run the same command on every
host with `--strategy multiworker` and a TF_CONFIG naming all hosts and this
host's index, e.g. on host 0 of two:

    export TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                       "task": {"type": "worker", "index": 0}}'
    python examples/distributed_training.py --strategy multiworker --backup-dir /shared/backup

The batch size is global (split across replicas), the loss, the regularizer
term and the metrics are scaled consistently with it, and a random start
drawn for PGD-style objectives does not depend on the split: with the same
global batch, N replicas train to the weights of one device (for models
without BatchNormalization or Dropout, whose statistics and masks are per
replica). With `--backup-dir`, a killed run started again with the same
command resumes at the last finished epoch; with `--deterministic` it then
ends on the weights an uninterrupted run would (tested in
tests/distribute/test_fault_tolerance.py).
"""

import argparse
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_quadreg as kq  # noqa: E402


def make_strategy(name, cpu_replicas):
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()  # every GPU
    if cpu_replicas:
        cpu = tf.config.list_physical_devices("CPU")[0]
        # A RuntimeError: TensorFlow already started; use its logical CPUs.
        with contextlib.suppress(RuntimeError):
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas
            )
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(cpus[: max(cpu_replicas, 1)])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strategy", default="mirrored", choices=["mirrored", "multiworker"])
    parser.add_argument(
        "--cpu-replicas",
        type=int,
        default=0,
        help="logical CPU replicas when there is no GPU (default: 0, one per device)",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("KERAS_QUADREG_DATA"),
        help="raw MNIST files (default: $KERAS_QUADREG_DATA)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="global batch size")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N examples")
    parser.add_argument(
        "--backup-dir", default=None, help="BackupAndRestore folder: resume after a crash"
    )
    parser.add_argument("--deterministic", action="store_true", help="enable op determinism")
    parser.add_argument("--save", default=None, help="save the trained model (.keras)")
    args = parser.parse_args(argv)

    # The strategy comes first: MultiWorkerMirroredStrategy must be created
    # before any other TensorFlow op runs.
    strategy = make_strategy(args.strategy, args.cpu_replicas)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    print(f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas")

    train = kq.data.load(
        "mnist", "train", args.batch_size, data_dir=args.data_dir, limit=args.limit
    )
    test = kq.data.load("mnist", "test", args.batch_size, data_dir=args.data_dir, limit=1000)
    with strategy.scope():
        model = kq.QuadRegModel(
            *kq.architectures.madry_cnn(filters=(16, 32), dense_units=128),
            regularizer=kq.regularizers.QuadraticAdversarial(
                epsilon=0.3, norm="inf", clip_min=0.0, clip_max=1.0, seed=0
            ),
        )
        model.compile(
            "adam",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    callbacks = [keras.callbacks.BackupAndRestore(args.backup_dir)] if args.backup_dir else []
    history = model.fit(
        train,
        validation_data=test,
        epochs=args.epochs,
        callbacks=callbacks,
        shuffle=False,
        verbose=2,
    )
    if args.save:
        model.save(args.save)
    return history.history


if __name__ == "__main__":
    main()

"""`quadreg train`: train a model with one method and write a run folder."""

import argparse
import itertools
import json
import os
import platform
import shutil
import sys

import keras_quadreg as kq
from keras_quadreg import _validation, recipes
from keras_quadreg.cli import bounds, catalog, choices, evaluate, help_format, training_methods
from keras_quadreg.cli.runs import RunFolder

DEFAULT_EPSILON = {"mnist": 0.3, "fashion_mnist": 0.1, "cifar10": 8 / 255, "svhn_cropped": 8 / 255}

ARCHITECTURES = {
    "madry_cnn": lambda info: kq.architectures.madry_cnn(info.image_shape, info.num_classes),
    "madry_cnn_small": lambda info: kq.architectures.madry_cnn(
        info.image_shape, info.num_classes, filters=(16, 32), dense_units=128
    ),
    "wong_cnn": lambda info: kq.architectures.wong_cnn(info.image_shape, info.num_classes),
    "preact_resnet18": lambda info: kq.architectures.preact_resnet18(
        info.image_shape, info.num_classes
    ),
    "wide_resnet": lambda info: kq.architectures.wide_resnet(
        28, 10, input_shape=info.image_shape, num_classes=info.num_classes
    ),
}

STRATEGIES = ("default", "mirrored", "multiworker")
SCHEDULES = ("constant", "cyclic", "piecewise", "cosine")  # kq.optimizers.SCHEDULES
PRECISIONS = {"none": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def add_arguments(parser, *, method=True):
    """Flags shared by `train` and `compare` (which takes several methods)."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="mnist", choices=choices.DATASETS, help="dataset")
    data.add_argument(
        "--data-dir",
        default=os.environ.get(choices.DATA_DIR_ENV),
        help="folder of raw dataset files (one subfolder per dataset) (default: "
        f"${choices.DATA_DIR_ENV})",
    )
    data.add_argument(
        "--limit", type=int, default=None, help="train on the first N training examples"
    )
    data.add_argument(
        "--val-limit",
        type=int,
        default=1000,
        help="validate on the first N test examples (0: none)",
    )
    data.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crop/flip (default: on for cifar10 and svhn_cropped)",
    )

    if method:
        parser.add_argument(
            "--method",
            default="quadreg",
            type=training_methods.canonical,
            choices=list(training_methods.METHODS),
            help="; ".join(f"{m.name}: {m.help}" for m in training_methods.METHODS.values())
            + " (hyphens or underscores)",
        )
    threat = parser.add_argument_group("threat model")
    threat.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="radius of the threat ball "
        "(default: mnist 0.3, fashion_mnist 0.1, cifar10/svhn 8/255)",
    )
    threat.add_argument(
        "--norm", default="inf", choices=["inf", "2"], help="norm of the threat ball"
    )

    add_method_flags(parser)
    add_adapt_flags(parser)

    opt = parser.add_argument_group("optimization")
    opt.add_argument(
        "--recipe",
        default=None,
        choices=recipes.names(),
        help="start from a named recipe, whose values become the defaults of the flags they "
        "name; flags given explicitly override them (kq.recipes.get(NAME) lists its values and "
        "cites its source)",
    )
    opt.add_argument(
        "--arch",
        default="auto",
        choices=["auto", *ARCHITECTURES],
        help="architecture (auto: madry_cnn for MNIST-like, preact_resnet18 for CIFAR/SVHN)",
    )
    opt.add_argument("--epochs", type=int, default=10, help="epochs")
    opt.add_argument("--batch-size", type=int, default=128, help="global batch size")
    opt.add_argument("--optimizer", default="adam", choices=["adam", "sgd"], help="optimizer")
    opt.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (the peak of a schedule)"
    )
    opt.add_argument(
        "--lr-schedule",
        default="constant",
        choices=SCHEDULES,
        help="constant; cyclic: up from 0 to --lr at --lr-peak-fraction of training, then down "
        "to 0; piecewise: --lr times --lr-decay at each of --lr-milestones; cosine: warm-up "
        "over --warmup-epochs, then cosine decay to 0",
    )
    opt.add_argument(
        "--lr-peak-fraction",
        type=float,
        default=0.4,
        help="cyclic: where the rate peaks, a fraction of training",
    )
    opt.add_argument(
        "--lr-milestones",
        type=float,
        nargs="+",
        default=None,
        help="piecewise: epochs at which the rate is multiplied by --lr-decay",
    )
    opt.add_argument(
        "--lr-decay", type=float, default=0.1, help="piecewise: factor at each milestone"
    )
    opt.add_argument(
        "--warmup-epochs", type=float, default=0.0, help="cosine: linear warm-up, in epochs"
    )
    opt.add_argument(
        "--weight-decay",
        type=float,
        default=0.0,
        help="decoupled weight decay (AdamW for adam)",
    )
    opt.add_argument(
        "--seed", type=int, default=0, help="seed of initialization, data order and attacks"
    )
    opt.add_argument(
        "--ramp-epochs",
        type=int,
        default=0,
        help="ramp epsilon linearly to its value over the first N epochs (methods with a "
        f"threat model: {', '.join(_THREAT_METHODS)}); 0: no ramp",
    )

    select = parser.add_argument_group("checkpoint selection")
    select.add_argument(
        "--holdout",
        type=int,
        default=0,
        help="hold out the last N training examples (not trained on) and keep the epoch of "
        "highest robust accuracy on them under --select-attack (0: keep the last epoch)",
    )
    select.add_argument(
        "--select-attack",
        default="pgd:steps=10",
        help="attack spec that ranks epochs on the held-out examples",
    )

    run = parser.add_argument_group("execution")
    run.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="tf.distribute strategy (multiworker reads TF_CONFIG)",
    )
    run.add_argument(
        "--mixed-precision", default="none", choices=list(PRECISIONS), help="mixed precision policy"
    )
    run.add_argument(
        "--jit",
        default="auto",
        choices=["auto", "on", "off"],
        help="XLA compilation of the training step",
    )
    run.add_argument(
        "--deterministic", action="store_true", help="enable TensorFlow op determinism"
    )
    run.add_argument(
        "--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras progress output"
    )
    run.add_argument(
        "--keep-checkpoints",
        default="best-last",
        choices=choices.KEEP_CHECKPOINTS,
        help="checkpoints/ keeps the last and best (lowest val_loss, or loss without validation) "
        "epochs' weights, or every epoch's too (all)",
    )


_THREAT_METHODS = [
    m.name for m in training_methods.METHODS.values() if "epsilon" in m.arguments.values()
]
_TYPES = {"int": int, "float": float}


def _choice(choices):
    """argparse `type` of a flag whose choices are not all strings (`[1, 2, "inf"]`)."""
    return lambda text: next((c for c in choices if str(c) == text), text)


def add_method_flags(parser):
    """The flags the training methods declare, one group per method; a flag
    several methods take says which."""
    flags = catalog.method_flags()
    for method in training_methods.METHODS.values():
        if not method.flags:
            continue
        group = parser.add_argument_group(f"--method {method.name} (defaults are the class's)")
        for dest, spec in method.flags.items():
            _, users = flags[dest]
            kwargs = dict(default=spec["default"], help=f"{', '.join(users)}: {spec['help']}")
            if isinstance(spec["default"], bool):
                kwargs["action"] = argparse.BooleanOptionalAction
            elif "choices" in spec:
                kwargs.update(choices=spec["choices"], type=_choice(spec["choices"]))
            else:
                kwargs["type"] = _TYPES[spec.get("type", type(spec["default"]).__name__)]
            group.add_argument("--" + dest.replace("_", "-"), **kwargs)


# FW-AT-Adapt's settings beside --adapt-iterations: name -> (default, type, help).
_ADAPT_FLAGS = {
    "threshold": (0.9, float, "distortion ratio r, in (0, 1], above which K halves"),
    "max_iterations": (15, int, "upper bound of K"),
    "increase": (2, int, "steps added at or below the threshold"),
    "probe": (1000, int, "training examples whose distortion is measured (all, if fewer)"),
}


def add_adapt_flags(parser):
    """FW-AT-Adapt's flags (`kq.callbacks.AdaptiveIterations`), with its authors' defaults."""
    adapt = parser.add_argument_group(
        "adaptive Frank-Wolfe steps (FW-AT-Adapt, Tsiligkaridis & Roberts 2022; --method quadreg)"
    )
    adapt.add_argument(
        "--adapt-iterations",
        action="store_true",
        help="set the Frank-Wolfe iterations K at the start of every epoch from the distortion "
        "of a two-step l_inf Frank-Wolfe attack on the first --adapt-probe training examples: "
        "K halves (at least 1) above --adapt-threshold, else grows by --adapt-increase (at most "
        "--adapt-max-iterations), from K = 1 before the first epoch; --iterations is unused",
    )
    for name, (default, kind, text) in _ADAPT_FLAGS.items():
        adapt.add_argument(
            f"--adapt-{name.replace('_', '-')}", type=kind, default=default, help=text
        )


def add_parser(subparsers):
    parser = help_format.command(
        subparsers,
        "train",
        help="train a model and write a run folder",
        description="Train a model with one method and write a run folder: config.json, "
        "model.keras, checkpoints/ (last and best weights), history.csv, logs/ (TensorBoard), "
        "timing.json. A run interrupted while training resumes from its backup/ when started "
        "again.",
    )
    add_arguments(parser)
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    parser.set_defaults(handler=run)


def config_from_args(args, method=None, overrides=None):
    """The resolved, JSON-serializable configuration of one run."""
    info = kq.data.info(args.dataset)
    options = {
        "dataset": args.dataset,
        "limit": args.limit,
        "val_limit": args.val_limit,
        "augment": info.augmentation is not None if args.augment is None else args.augment,
        "method": method or args.method,
        "epsilon": DEFAULT_EPSILON[args.dataset] if args.epsilon is None else args.epsilon,
        "norm": "inf" if args.norm == "inf" else 2,
        "clip_min": 0.0,
        "clip_max": 1.0,
        **{dest: getattr(args, dest) for dest in catalog.method_flags()},
        "arch": args.arch
        if args.arch != "auto"
        else ("madry_cnn" if info.image_shape[-1] == 1 else "preact_resnet18"),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "lr_schedule": args.lr_schedule,
        "lr_peak_fraction": args.lr_peak_fraction,
        "lr_milestones": args.lr_milestones,
        "lr_decay": args.lr_decay,
        "warmup_epochs": args.warmup_epochs,
        "weight_decay": args.weight_decay,
        "holdout": args.holdout,
        "select_attack": args.select_attack,
        "recipe": args.recipe,
        "seed": args.seed,
        "ramp_epochs": args.ramp_epochs,
        "adapt_iterations": args.adapt_iterations,
        **{f"adapt_{name}": getattr(args, f"adapt_{name}") for name in _ADAPT_FLAGS},
        "strategy": args.strategy,
        "mixed_precision": args.mixed_precision,
        "jit": args.jit,
        "deterministic": args.deterministic,
    }
    unknown = set(overrides or {}) - set(options)
    if unknown:
        raise ValueError(
            f"Expected method options among {sorted(options)}. Received: {sorted(unknown)}"
        )
    options.update(overrides or {})
    bounds.check_options(options)
    if options["holdout"]:
        size = info.splits["train"]
        if options["holdout"] >= size:
            raise ValueError(
                f"Expected `holdout` to leave training examples: fewer than the {size} of "
                f"{options['dataset']}. Received: holdout={options['holdout']}"
            )
    _check_select_attack(options["select_attack"], info)
    if not options["holdout"]:
        options["select_attack"] = None  # unused: no held-out examples to rank epochs on
    _check_schedule(options, info)
    regularizer = training_methods.build(options)
    _check_adapt(options, regularizer)
    options["regularizer"] = kq.regularizers.serialize(regularizer)
    return options


def _check_adapt(options, regularizer):
    """`adapt_iterations` needs a regularizer with Frank-Wolfe iterations and
    an l_inf ball, the attacks whose distortion FW-AT-Adapt measures."""
    if not options["adapt_iterations"]:
        return
    if not isinstance(getattr(regularizer, "iterations", None), int):
        raise ValueError(
            "Expected `adapt_iterations` with a method whose regularizer takes Frank-Wolfe "
            f"iterations: quadreg. Received: method={options['method']!r}"
        )
    if options["norm"] != "inf":
        raise ValueError(
            "Expected `adapt_iterations` with norm 'inf': the distortion it measures is of "
            f"l_inf Frank-Wolfe attacks. Received: norm={options['norm']!r}"
        )


def _check_select_attack(spec, info):
    """Builds the attack of `select_attack` and checks it runs on the dataset,
    given or not with `holdout`: a bad spec is a mistake either way."""
    try:
        attack = evaluate.attack(spec)
        attack.check_classes(info.num_classes)
        attack.check_inputs((1, *info.image_shape))
    except ValueError as error:
        raise ValueError(f"In the select_attack spec {spec!r}: {error}") from None


def _check_schedule(options, info):
    """Builds the learning-rate schedule and optimizer of a run as
    `build_model` will, before any data is read or file written."""
    epochs, milestones = options["epochs"], options["lr_milestones"]
    if options["lr_schedule"] == "piecewise":
        if not milestones:
            raise ValueError(
                "Expected `lr_milestones`, the epochs at which the rate is multiplied by "
                "`lr_decay`, with lr_schedule='piecewise'. Received: lr_milestones=None"
            )
        increasing = all(a < b for a, b in itertools.pairwise(milestones))
        if not increasing or milestones[-1] >= epochs:
            recipe = options["recipe"] and recipes.get(options["recipe"]).options
            hint = ""
            if recipe and recipe.get("lr_milestones") == milestones:
                hint = (
                    f"; the recipe {options['recipe']!r} sets them for its {recipe['epochs']} "
                    "epochs: pass `lr_milestones` with `epochs`"
                )
            raise ValueError(
                f"Expected `lr_milestones` to be increasing epochs within the {epochs} epochs of "
                f"training{hint}. Received: lr_milestones={milestones}, epochs={epochs}"
            )
    if options["lr_schedule"] == "cosine" and options["warmup_epochs"] >= epochs:
        raise ValueError(
            f"Expected `warmup_epochs` shorter than the {epochs} epochs of training. "
            f"Received: warmup_epochs={options['warmup_epochs']}, epochs={epochs}"
        )
    holdout = options["holdout"]
    selection = slice(None, -holdout) if holdout else slice(None)
    size = kq.data.splits.size(info, "train", selection, options["limit"])
    steps_per_epoch = -(-size // options["batch_size"])  # the last batch is not dropped
    learning_rate_of(options, steps_per_epoch)


def learning_rate_of(config, steps_per_epoch):
    """The optimizer of a run, its learning rate scheduled over
    `epochs * steps_per_epoch` steps."""
    learning_rate = kq.optimizers.learning_rate_schedule(
        config["lr_schedule"],
        config["lr"],
        epochs=config["epochs"],
        steps_per_epoch=steps_per_epoch,
        warmup_epochs=config["warmup_epochs"],
        # Only the piecewise schedule reads them; a recipe's stay unused by another.
        milestones=(config["lr_milestones"] or []) if config["lr_schedule"] == "piecewise" else [],
        decay=config["lr_decay"],
        peak_fraction=config["lr_peak_fraction"],
    )
    return kq.optimizers.optimizer(
        config["optimizer"], learning_rate, weight_decay=config["weight_decay"]
    )


def _strategy(name):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _chief(strategy):
    """Whether this process writes the run folder (all but multi-worker non-chiefs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def build_model(config, steps_per_epoch=1):
    """The compiled `QuadRegModel` of a run, its learning rate scheduled over
    `epochs * steps_per_epoch` steps."""
    import keras

    info = kq.data.info(config["dataset"])
    inputs, outputs = ARCHITECTURES[config["arch"]](info)
    model = kq.QuadRegModel(
        inputs,
        outputs,
        regularizer=kq.regularizers.deserialize(config["regularizer"]),
        name=f"{config['method'].replace('-', '_')}_{config['arch']}",
    )
    model.compile(
        learning_rate_of(config, steps_per_epoch),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile={"auto": "auto", "on": True, "off": False}[config["jit"]],
    )
    return model


def check_out(out, config, *, overwrite=False):
    """The `RunFolder` of `out`, once checked to be able to take the run
    `config`: a new folder, an interrupted run of the same configuration
    (which resumes), or anything but a file with `overwrite`."""
    run = RunFolder(out)
    if run.root.exists() and not run.root.is_dir():
        raise ValueError(
            f"Expected `out` to be a run folder; it is a file. Received: out={str(out)!r}"
        )
    if overwrite:
        return run
    if run.model.exists():
        raise SystemExit(
            f"quadreg: {run.root} already holds a trained model; pass --overwrite or another --out."
        )
    if run.config.exists():  # an interrupted run: resume it only with the same configuration
        differences = _differences(run.read_json(run.config), json.loads(json.dumps(config)))
        if differences:
            raise SystemExit(
                f"quadreg: {run.root} holds an interrupted run with another configuration "
                f"({differences}); resume it with its flags, or pass --overwrite or another --out."
            )
    return run


def _differences(saved, config):
    """`--flag X there, Y here; ...` for each option of `config` the saved
    configuration has otherwise or lacks; the regularizer, built from the
    others, only when nothing else differs. An option the saved configuration
    lacks counts as its default there, so that a flag added since the run
    started does not keep it from resuming."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = vars(parser.parse_args([]))
    keys = [k for k in config if k != "regularizer"]
    changed = [k for k in keys if k in saved and saved[k] != config[k]]
    unrecorded = [
        k for k in keys if k not in saved and (k not in defaults or config[k] != defaults[k])
    ]
    if not changed and not unrecorded and saved.get("regularizer") != config["regularizer"]:
        changed = ["regularizer"]
    parts = [f"{_flag(k)} {saved.get(k)!r} there, {config[k]!r} here" for k in changed]
    if unrecorded:
        parts.append(f"{', '.join(map(_flag, unrecorded))} not recorded there")
    return "; ".join(parts)


def _flag(key):
    return f"--{key.replace('_', '-')}"


def train(config, out, *, data_dir=None, verbose=1, overwrite=False, keep_checkpoints="best-last"):
    """Trains the run described by `config` into the folder `out`.

    Args:
        keep_checkpoints: `"best-last"` keeps the last and best epochs'
            weights in `checkpoints/`, `"all"` every epoch's too (see
            `kq.callbacks.Checkpoints`).

    Returns:
        The `RunFolder`.
    """
    import keras
    import tensorflow as tf

    from keras_quadreg.cli.timing import TrainTimer

    keep_checkpoints = _validation.choice(
        "keep_checkpoints", keep_checkpoints, kq.callbacks.checkpointing.KEEP
    )
    run = check_out(out, config, overwrite=overwrite)
    if overwrite and run.root.exists():
        shutil.rmtree(run.root)
    if config["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config["seed"])
    strategy = _strategy(config["strategy"])
    keras.mixed_precision.set_dtype_policy(PRECISIONS[config["mixed_precision"]])
    if not _chief(strategy):
        run = RunFolder(run.root / f"worker-{strategy.cluster_resolver.task_id}")
    # The data first: a run that cannot read its data leaves no config.json,
    # which would make the corrected command look like another configuration.
    loader = dict(data_dir=data_dir, seed=config["seed"])
    data_epoch = kq.data.EpochCounter()  # a resumed run draws the data of its epochs
    holdout = config["holdout"]
    train_ds = kq.data.load(
        config["dataset"],
        f"train[:-{holdout}]" if holdout else "train",
        config["batch_size"],
        limit=config["limit"],
        augment=config["augment"],
        epoch_counter=data_epoch,
        **loader,
    )
    val_ds = None
    if config["val_limit"]:
        val_ds = kq.data.load(
            config["dataset"], "test", config["batch_size"], limit=config["val_limit"], **loader
        )
    holdout_ds = None
    if holdout:
        holdout_ds = kq.data.load(
            config["dataset"], f"train[-{holdout}:]", config["batch_size"], **loader
        )
    probe = None
    if config["adapt_iterations"]:  # FW-AT-Adapt measures on training examples
        probe = kq.data.load_arrays(
            config["dataset"],
            f"train[:-{holdout}]" if holdout else "train",
            data_dir=data_dir,
            limit=min(config["adapt_probe"], config["limit"] or config["adapt_probe"]),
        )
    # The model (its optimizer and schedule) too: nothing is written before
    # everything the run needs has been built.
    with strategy.scope():
        model = build_model(config, steps_per_epoch=int(train_ds.cardinality()))
    run.root.mkdir(parents=True, exist_ok=True)
    run.write_json(
        run.config,
        {
            **config,
            "command": " ".join(sys.argv),
            "versions": {
                "keras_quadreg": kq.__version__,
                "keras": keras.__version__,
                "tensorflow": tf.__version__,
                "python": platform.python_version(),
            },
        },
    )
    selector = None
    if holdout_ds is not None:
        selector = kq.callbacks.RobustAccuracy(
            holdout_ds,
            config["epsilon"],
            norm=config["norm"],
            attack=evaluate.attack(config["select_attack"]),
            seed=config["seed"],
            clip_min=config["clip_min"],
            clip_max=config["clip_max"],
            prefix="holdout_",
        )
    callbacks = [
        # First: an epoch's time ends before the selection's attack starts.
        TrainTimer(run),
        *([selector] if selector else []),
        # Before the backup: an epoch whose checkpoints were not written is redone.
        kq.callbacks.Checkpoints(
            run.checkpoints,
            keep=keep_checkpoints,
            **(
                dict(monitor=selector.key, mode="max")
                if selector
                else dict(monitor="val_loss" if val_ds is not None else "loss")
            ),
        ),
        keras.callbacks.BackupAndRestore(str(run.backup)),
        keras.callbacks.CSVLogger(str(run.history), append=True),
        keras.callbacks.TensorBoard(str(run.logs)),
        data_epoch,
    ]
    if probe is not None:
        # After the timer, which counts the probe in the epoch's time; before
        # the backup and the logger, which save and write what it sets.
        callbacks.insert(
            1,
            kq.callbacks.AdaptiveIterations(
                probe,
                threshold=config["adapt_threshold"],
                max_iterations=config["adapt_max_iterations"],
                increase=config["adapt_increase"],
                num_examples=config["adapt_probe"],
                state_path=run.backup / "adaptive_iterations.json",
                verbose=int(verbose == 1),
            ),
        )
    regularizer = model.regularizer
    if config["ramp_epochs"] and regularizer is not None and regularizer.threat_model is not None:
        callbacks.insert(
            0, kq.callbacks.RegularizerSchedule(config["ramp_epochs"], epsilon=config["epsilon"])
        )
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config["epochs"],
        callbacks=callbacks,
        shuffle=False,  # kq.data shuffles, per (seed, epoch)
        verbose=verbose,
    )
    if selector:  # the run's model is the epoch chosen on the held-out examples
        best = run.read_json(run.checkpoints / "best.json")
        model.load_weights(run.checkpoints / "best.weights.h5")
        run.write_json(
            run.selection,
            {**best, "holdout": holdout, "attack": config["select_attack"]},
        )
    # Written aside and renamed into place: a process stopped while saving
    # leaves no truncated model.keras (which would pass for a finished run).
    partial = run.root / f"partial-{run.model.name}"
    model.save(partial)
    os.replace(partial, run.model)
    keras.mixed_precision.set_dtype_policy("float32")
    return run


def run(args):
    config = config_from_args(args)
    folder = train(
        config,
        args.out,
        data_dir=args.data_dir,
        verbose=args.verbose,
        overwrite=args.overwrite,
        keep_checkpoints=args.keep_checkpoints,
    )
    print(f"quadreg: trained {config['method']} on {config['dataset']}; run folder {folder.root}")
    print(json.dumps({"model": str(folder.model), "timing": str(folder.timing)}))

"""Cross-check of the native AutoAttack against the authors' reference code.

Converts a Keras classifier to PyTorch, runs the standard AutoAttack of the
authors' implementation (fra31/auto-attack, the code RobustBench evaluates
with) on it and `kq.attacks.AutoAttack` on the Keras model, on the same
images with the same seed, and prints, per component (APGD-CE, APGD-T,
FAB-T, Square, each on the examples the previous ones left robust), how
many examples each implementation broke, how many both broke, how many
only one broke, and each one's time; then the robust accuracies, the
examples only one of them breaks, and the warning flags each raised.

The reference runs on PyTorch (`pip install 'keras-quadreg[reference]'`
installs it; a CPU build is enough) from a clone of the authors'
repository, whose path `--reference` gives; nothing of it is part of this
repository:

    git clone https://github.com/fra31/auto-attack /path/to/auto-attack

The model must be a chain of layers the converter knows (`Conv2D`,
`Dense`, `Flatten`, `MaxPooling2D`, `AveragePooling2D`,
`GlobalAveragePooling2D`, `ZeroPadding2D`, `BatchNormalization`, `ReLU`,
`Activation`, `Rescaling`, `Dropout`), on images `(height, width,
channels)` in [0, 1]; the script checks that both models give the same
outputs before attacking. Each implementation runs component by component
on the examples still robust, as inside one AutoAttack run (the reference
with `version="standard"` configured, `attacks_to_run` one component at a
time; its Square flag, which compares components of one run, is computed
from the counts with its formula).

Long runs are resumable: the images are processed in chunks of
`--chunk` (each a separate evaluation, with batches of at most
`--batch-size`), and each chunk's result is written to `--out`; a chunk
already there is not run again.

Usage:

    python benchmarks/autoattack_reference.py --reference /path/to/auto-attack \\
        --model-path model.keras --num-examples 500 --epsilon 0.3 --out crosscheck/
    python benchmarks/autoattack_reference.py --reference /path/to/auto-attack \\
        --model-path model.keras --dataset fashion_mnist --epsilon 0.1 --sides native
"""

import argparse
import contextlib
import io
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras_quadreg as kq  # noqa: E402
from keras_quadreg.attacks import checks  # noqa: E402
from keras_quadreg.attacks.autoattack import STANDARD  # noqa: E402

#: The reference's name of each component.
REFERENCE_NAMES = {"apgd_ce": "apgd-ce", "apgd_t": "apgd-t", "fab_t": "fab-t", "square": "square"}

GET_REFERENCE = (
    "The reference implementation is the authors' code, not part of this repository: clone it "
    "with `git clone https://github.com/fra31/auto-attack` and pass its folder as "
    "`--reference`; it runs on PyTorch (`pip install 'keras-quadreg[reference]'`, a CPU "
    "build is enough)."
)


def _import_reference(path):
    """The reference's `AutoAttack` class and `torch`, or a SystemExit saying how to get them."""
    if path is None or not (pathlib.Path(path) / "autoattack" / "autoattack.py").is_file():
        raise SystemExit(f"No reference implementation at --reference={path}. {GET_REFERENCE}")
    try:
        import torch
    except ImportError:
        raise SystemExit(f"PyTorch is not installed. {GET_REFERENCE}") from None
    sys.path.insert(0, str(pathlib.Path(path).resolve()))
    from autoattack import AutoAttack

    return AutoAttack, torch


def _same_padding(size, kernel, stride):
    """Keras's `same` padding of one axis: `(before, after)`, the extra pixel after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def to_torch(model, input_shape):
    """A PyTorch module computing `model`'s outputs on NCHW images.

    Example:

    ```python
    module = to_torch(keras.models.load_model("model.keras"), (28, 28, 1))
    logits = module(torch.from_numpy(x.transpose(0, 3, 1, 2)))
    ```

    Args:
        model: A Keras model that is a chain of the layers listed in the
            module docstring.
        input_shape: Shape of one image, `(height, width, channels)`.

    Returns:
        A `torch.nn.Module` in evaluation mode.
    """
    import torch
    import torch.nn.functional as F

    def activation(name):
        table = {
            "linear": lambda t: t,
            "relu": F.relu,
            "softmax": lambda t: F.softmax(t, dim=-1),
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
        }
        if name not in table:
            raise ValueError(
                f"Expected a layer activation among {sorted(table)}. Received: activation={name!r}"
            )
        return table[name]

    def tensor(value):
        return torch.from_numpy(np.asarray(value, np.float32))

    steps = []
    shape = tuple(input_shape)  # (h, w, c) while images, (features,) after flattening
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        if kind in ("InputLayer", "Dropout"):
            continue
        if kind == "Conv2D":
            if config["dilation_rate"] not in ((1, 1), [1, 1]) or config.get("groups", 1) != 1:
                raise ValueError(f"Expected an undilated, ungrouped Conv2D. Received: {config}")
            kernel, bias = (
                layer.get_weights() if config["use_bias"] else (layer.get_weights()[0], None)
            )
            weight = tensor(kernel.transpose(3, 2, 0, 1))
            bias = None if bias is None else tensor(bias)
            stride = tuple(config["strides"])
            (kh, kw), (h, w, _) = kernel.shape[:2], shape
            if config["padding"] == "same":
                (top, bottom), (left, right) = (
                    _same_padding(h, kh, stride[0]),
                    _same_padding(w, kw, stride[1]),
                )
            else:
                top = bottom = left = right = 0
            fn = activation(config["activation"])

            def conv(t, weight=weight, bias=bias, pad=(left, right, top, bottom), s=stride, fn=fn):
                return fn(F.conv2d(F.pad(t, pad), weight, bias, s))

            steps.append(conv)
            shape = (
                (h + top + bottom - kh) // stride[0] + 1,
                (w + left + right - kw) // stride[1] + 1,
                kernel.shape[3],
            )
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            if config["padding"] != "valid":
                raise ValueError(f"Expected `valid` pooling. Received: {config}")
            size, stride = (
                tuple(config["pool_size"]),
                tuple(config["strides"] or config["pool_size"]),
            )
            pool = F.max_pool2d if kind == "MaxPooling2D" else F.avg_pool2d
            steps.append(lambda t, pool=pool, size=size, stride=stride: pool(t, size, stride))
            h, w, c = shape
            shape = ((h - size[0]) // stride[0] + 1, (w - size[1]) // stride[1] + 1, c)
        elif kind == "ZeroPadding2D":
            (top, bottom), (left, right) = config["padding"]
            steps.append(lambda t, pad=(left, right, top, bottom): F.pad(t, pad))
            h, w, c = shape
            shape = (h + top + bottom, w + left + right, c)
        elif kind == "GlobalAveragePooling2D":
            steps.append(lambda t: t.mean(dim=(2, 3)))
            shape = (shape[-1],)
        elif kind == "Flatten":
            # Keras flattens channels last.
            steps.append(lambda t: t.permute(0, 2, 3, 1).reshape(t.shape[0], -1))
            shape = (int(np.prod(shape)),)
        elif kind == "Dense":
            kernel, bias = (
                layer.get_weights() if config["use_bias"] else (layer.get_weights()[0], None)
            )
            weight, bias = tensor(kernel.T), None if bias is None else tensor(bias)
            fn = activation(config["activation"])
            steps.append(lambda t, weight=weight, bias=bias, fn=fn: fn(F.linear(t, weight, bias)))
            shape = (kernel.shape[1],)
        elif kind == "BatchNormalization":
            gamma, beta, mean, variance = (
                layer.gamma if config["scale"] else np.ones(layer.moving_mean.shape),
                layer.beta if config["center"] else np.zeros(layer.moving_mean.shape),
                layer.moving_mean,
                layer.moving_variance,
            )
            scale = tensor(np.asarray(gamma) / np.sqrt(np.asarray(variance) + config["epsilon"]))
            offset = tensor(np.asarray(beta)) - tensor(np.asarray(mean)) * scale
            view = (1, -1, 1, 1) if len(shape) == 3 else (1, -1)
            scale, offset = scale.view(view), offset.view(view)
            steps.append(lambda t, a=scale, b=offset: t * a + b)
        elif kind == "ReLU":
            if config.get("max_value") is not None or config.get("negative_slope", 0.0) != 0.0:
                raise ValueError(f"Expected a plain ReLU. Received: {config}")
            steps.append(F.relu)
        elif kind == "Activation":
            steps.append(activation(config["activation"]))
        elif kind == "Rescaling":
            scale, offset = float(config["scale"]), float(config["offset"])
            steps.append(lambda t, a=scale, b=offset: t * a + b)
        else:
            raise ValueError(
                f"Expected a chain of the layers this converter knows (see its docstring). "
                f"Received: a layer of type {kind} ({layer.name})"
            )

    class Converted(torch.nn.Module):
        def forward(self, t):
            for step in steps:
                t = step(t)
            return t

    return Converted().eval()


def _load(args):
    model = keras.models.load_model(args.model_path)
    x, y = kq.data.load_arrays(
        args.dataset, "test", data_dir=args.data_dir, limit=args.first_example + args.num_examples
    )
    return model, x[args.first_example :], y[args.first_example :]


def _run_reference(AutoAttack, torch, module, x, y, args):
    """Per component: indices (into `x`) broken, seconds; and the flags printed."""
    norm = "Linf" if args.norm == "inf" else "L2"
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        adversary = AutoAttack(
            module, norm=norm, eps=args.epsilon, version="standard", seed=args.seed, device="cpu"
        )
    for attack in (adversary.apgd, adversary.apgd_targeted):
        steps = args.steps
        attack.n_iter = attack.n_iter_orig = steps
        attack.n_iter_2 = max(int(0.22 * steps), 1)
        attack.n_iter_min = max(int(0.06 * steps), 1)
        attack.size_decr = max(int(0.03 * steps), 1)
    adversary.fab.n_iter = args.steps
    adversary.square.n_queries = args.square_queries
    images = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    labels = torch.from_numpy(y)
    with torch.no_grad():
        robust = (module(images).argmax(1) == labels).numpy()
    out = {"clean": robust.tolist(), "components": {}}
    for name in args.components:
        index = np.flatnonzero(robust)
        start = time.perf_counter()
        broken = np.zeros(0, np.int64)
        if len(index):
            adversary.attacks_to_run = [REFERENCE_NAMES[name]]
            with contextlib.redirect_stdout(log):
                adv = adversary.run_standard_evaluation(
                    images[index], labels[index], bs=args.batch_size
                )
            with torch.no_grad():
                broken = index[(module(adv).argmax(1) != labels[index]).numpy()]
        robust[broken] = False
        out["components"][name] = {
            "broken": broken.tolist(),
            "seconds": time.perf_counter() - start,
        }
    flags = sorted(
        {
            line[len("Warning: ") :]
            for line in log.getvalue().splitlines()
            if line.startswith("Warning: ")
        }
    )
    out["flags"] = flags
    return out


def _run_native(model, x, y, args):
    model_fn, _ = kq.attacks.logits_function(model, sample=x[: args.batch_size])
    threat = kq.ops.threat_model(args.epsilon, args.norm, 0.0, 1.0)
    predict = lambda t: np.argmax(model_fn(tf.constant(t)).numpy(), -1)  # noqa: E731
    robust = (
        np.concatenate(
            [predict(x[i : i + args.batch_size]) for i in range(0, len(x), args.batch_size)]
        )
        == y
    )
    out = {"clean": robust.tolist(), "components": {}, "flags": []}
    for name in args.components:
        index = np.flatnonzero(robust)
        start = time.perf_counter()
        broken = np.zeros(0, np.int64)
        if len(index):
            attack = kq.attacks.AutoAttack(
                components=[name], steps=args.steps, square_queries=args.square_queries
            )
            adv = attack.generate(
                model_fn, x[index], y[index], threat, seed=args.seed, batch_size=args.batch_size
            )
            broken = index[predict(adv) != y[index]]
            out["flags"] += [f["message"] for f in attack.flags]
        robust[broken] = False
        out["components"][name] = {
            "broken": broken.tolist(),
            "seconds": time.perf_counter() - start,
        }
    out["flags"] = sorted(set(out["flags"]))
    return out


def _square_flag(result, components):
    """The reference's Square flag on one side's counts, or None."""
    n = len(result["clean"])
    robust = int(np.sum(result["clean"]))
    after = {"clean": robust / n}
    for name in components:
        robust -= len(result["components"][name]["broken"])
        after[name] = robust / n
    flag = checks.square_success(after, n)
    return None if flag is None else flag["message"]


def _summary(chunks, components, sides):
    """Merged per-example results and the printed table."""
    merged, base = {}, chunks[0]["first"]
    for side in sides:
        clean, broken, seconds, flags = (
            [],
            {c: [] for c in components},
            dict.fromkeys(components, 0.0),
            set(),
        )
        for chunk in chunks:
            result = chunk[side]
            clean += result["clean"]
            for c in components:
                offset = chunk["first"] - base
                broken[c] += [offset + i for i in result["components"][c]["broken"]]
                seconds[c] += result["components"][c]["seconds"]
            flags |= set(result["flags"])
            square = _square_flag(result, components) if "square" in components else None
            if square:
                flags.add(f"{square} (chunk from {chunk['first']})")
        merged[side] = {
            "clean": clean,
            "broken": broken,
            "seconds": seconds,
            "flags": sorted(flags),
        }
    n = len(merged[sides[0]]["clean"])
    lines = [f"{n} examples"]
    header = f"{'component':<10}" + "".join(f"{s + ' broken':>18}" for s in sides)
    if len(sides) == 2:
        header += f"{'both':>7}{'reference only':>16}{'native only':>13}"
    header += "".join(f"{s + ' s':>14}" for s in sides)
    lines.append(header)
    for c in components:
        sets = [set(merged[s]["broken"][c]) for s in sides]
        row = f"{c:<10}" + "".join(f"{len(b):>18}" for b in sets)
        if len(sides) == 2:
            both, first, second = sets[0] & sets[1], sets[0] - sets[1], sets[1] - sets[0]
            row += f"{len(both):>7}{len(first):>16}{len(second):>13}"
        row += "".join(f"{merged[s]['seconds'][c]:>14.1f}" for s in sides)
        lines.append(row)
    robust = {}
    for s in sides:
        kept = np.array(merged[s]["clean"], bool)
        for c in components:
            kept[np.array(merged[s]["broken"][c], np.int64)] = False
        robust[s] = kept
        lines.append(
            f"{s}: clean {100 * np.mean(merged[s]['clean']):.1f} %, robust "
            f"{100 * kept.mean():.1f} % ({int(kept.sum())}), "
            f"{sum(merged[s]['seconds'].values()):.1f} s"
        )
    if len(sides) == 2:
        only_reference = np.flatnonzero(robust["native"] & ~robust["reference"])
        only_native = np.flatnonzero(robust["reference"] & ~robust["native"])
        lines.append(
            f"test images broken by the reference only: {(base + only_reference).tolist()}"
        )
        lines.append(f"test images broken by the native set only: {(base + only_native).tolist()}")
    for s in sides:
        lines.append(f"{s} flags: " + ("; ".join(merged[s]["flags"]) or "none"))
    return merged, "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--reference", help="folder of a clone of fra31/auto-attack")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--num-examples", type=int, default=500)
    parser.add_argument("--first-example", type=int, default=0)
    parser.add_argument("--epsilon", type=float, default=0.3)
    parser.add_argument("--norm", default="inf", choices=["inf", "2"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--chunk", type=int, default=250, help="images per resumable chunk")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--square-queries", type=int, default=5000)
    parser.add_argument("--components", nargs="+", default=list(STANDARD), choices=STANDARD)
    parser.add_argument(
        "--sides", nargs="+", default=["reference", "native"], choices=["reference", "native"]
    )
    parser.add_argument("--out", default=None, help="folder of the chunk results")
    args = parser.parse_args(argv)
    args.norm = "inf" if args.norm == "inf" else 2
    args.components = [c for c in STANDARD if c in args.components]
    sides = [s for s in ("reference", "native") if s in args.sides]
    if "reference" in sides:
        AutoAttack, torch = _import_reference(args.reference)
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    model, x, y = _load(args)
    module = None
    if "reference" in sides:
        module = to_torch(model, x.shape[1:])
        with torch.no_grad():
            theirs = module(torch.from_numpy(x[:256].transpose(0, 3, 1, 2).copy())).numpy()
        ours = keras.ops.convert_to_numpy(model(x[:256], training=False))
        gap = float(np.abs(theirs - ours).max())
        print(f"converted model: largest output difference {gap:.2g} on {len(theirs)} images")
        if gap > 1e-3 * max(1.0, float(np.abs(ours).max())):
            raise SystemExit(
                f"The converted model's outputs differ from the Keras model's by {gap}."
            )
    out = pathlib.Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    chunks = []
    for first in range(0, len(x), args.chunk):
        path = out / f"chunk_{args.first_example + first:06d}.json" if out else None
        if path and path.exists():
            chunk = json.loads(path.read_text())
            if all(s in chunk for s in sides):
                chunks.append(chunk)
                continue
        xs, ys = x[first : first + args.chunk], y[first : first + args.chunk]
        chunk = {"first": args.first_example + first, "count": len(xs)}
        if "reference" in sides:
            chunk["reference"] = _run_reference(AutoAttack, torch, module, xs, ys, args)
        if "native" in sides:
            chunk["native"] = _run_native(model, xs, ys, args)
        if path:
            path.write_text(json.dumps(chunk))
        print(f"chunk from {chunk['first']}: done", flush=True)
        chunks.append(chunk)
    merged, text = _summary(chunks, args.components, sides)
    print(text)
    return merged


if __name__ == "__main__":
    main()

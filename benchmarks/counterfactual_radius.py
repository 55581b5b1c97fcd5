"""How much must an image change to become another class, for a standard and a robust model.

Loads the models of two run folders written by `quadreg train` (a standard
and a robust one, same dataset) and, optionally, a third independently
trained model. On the first `--examples` images of `--split` (the test set;
a held-out slice of the training set to choose settings), each is pushed
toward every class but its label (`kq.explain.counterfactuals`, radius
searched: the smallest l_2 radius, up to the cap, at which the target reaches
`--probability`). Writes to `--out`:

- `radii.json`: per model, the share of counterfactuals that reached their
  target within the cap, the median radius they needed (targets out of reach
  counted as beyond the cap) and its quartiles, the transfer of the
  successful ones to `--independent`, the seconds taken, and the settings;
- `counterfactuals_compared.png`: both models' counterfactuals of the first
  `--figure-images` test images toward every class but the standard model's
  prediction, side by side (`kq.explain.compare_counterfactuals`), each cell
  with its radius.

    python benchmarks/counterfactual_radius.py --standard runs/std --robust runs/qr \\
        --independent runs/std_s1 --data-dir ../shared/data --out /tmp/radius
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
from keras_quadreg.explain import metrics  # noqa: E402

# What a resumed measurement must share with the one it continues.
KEYS = ("dataset", "split", "examples", "settings")


def load(run):
    run = pathlib.Path(run)
    config = json.loads((run / "config.json").read_text())
    return keras.models.load_model(run / "model.keras"), config


def summary(cf, independent):
    radii = cf.radii.reshape(-1)
    quartiles = np.quantile(radii, [0.25, 0.5, 0.75])
    return {
        "success": cf.success_rate,
        "median_radius": float(quartiles[1]),
        "quartiles": [float(q) for q in quartiles],
        "transfer": None
        if independent is None
        else metrics.counterfactual_transfer(independent, cf),
        "counterfactuals": int(radii.size),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--standard", required=True, help="run folder of the standard model")
    parser.add_argument("--robust", required=True, help="run folder of the robust model")
    parser.add_argument(
        "--independent", default=None, help="run folder of an independent model, for transfer"
    )
    parser.add_argument("--data-dir", default=None, help="raw dataset files")
    parser.add_argument("--out", required=True, help="folder for radii.json and the figure")
    parser.add_argument(
        "--split",
        default="test",
        help="images measured: the test set, or a held-out slice of the training set such as "
        "'train[-1000:]' to choose settings without looking at test images",
    )
    parser.add_argument("--examples", type=int, default=100, help="images measured")
    parser.add_argument("--figure-images", type=int, default=4, help="images in the figure")
    parser.add_argument("--max-epsilon", type=float, default=None, help="cap of the search")
    parser.add_argument("--probability", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=20, help="gradient steps per radius tried")
    parser.add_argument("--search-steps", type=int, default=4, help="bisections")
    parser.add_argument(
        "--gradient-noise",
        type=float,
        default=1.0,
        help="noise of the search's first gradient, as a fraction of the radius tried",
    )
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    standard, config = load(args.standard)
    robust, robust_config = load(args.robust)
    if config["dataset"] != robust_config["dataset"]:
        raise SystemExit("expected two runs on the same dataset")
    independent = None if args.independent is None else load(args.independent)[0]
    x, y = kq.data.load_arrays(
        config["dataset"], args.split, data_dir=args.data_dir, limit=args.examples
    )
    every = np.tile(np.arange(standard.output_shape[-1]), (len(y), 1))
    others = every[every != y[:, None]].reshape(len(y), -1)
    settings = {
        "max_epsilon": args.max_epsilon,
        "probability": args.probability,
        "steps": args.steps,
        "search_steps": args.search_steps,
        "gradient_noise": args.gradient_noise,
    }
    results = {
        "dataset": config["dataset"],
        "split": args.split,
        "examples": len(y),
        "settings": settings,
    }
    models = {"standard": standard, robust_config["method"]: robust}
    previous = out / "radii.json"
    previous = json.loads(previous.read_text()) if previous.exists() else {}
    for name, model in models.items():
        same = {k: previous.get(k) for k in KEYS} == {k: results[k] for k in KEYS}
        if same and name in previous:  # resumed: this model was measured already
            results[name] = previous[name]
            continue
        start = time.perf_counter()
        cf = kq.explain.counterfactuals(model, x, others, **settings)
        results[name] = {**summary(cf, independent), "seconds": time.perf_counter() - start}
        results[name]["cap"] = cf.epsilon
        print(name, json.dumps(results[name]), flush=True)
        (out / "radii.json").write_text(json.dumps(results, indent=2) + "\n")
    comparison = kq.explain.compare_counterfactuals(
        models, x[: args.figure_images], "others", **settings
    )
    comparison.save(out / "counterfactuals_compared.png")
    print(f"wrote {out / 'radii.json'}, {out / 'counterfactuals_compared.png'}", flush=True)


if __name__ == "__main__":
    main()

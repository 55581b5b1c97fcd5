"""Robust accuracy under AutoAttack against training cost, every method.

Reads measured rows (`docs/measured/*.json`: per dataset, each method's
AutoAttack accuracy and its training time as a multiple of standard training
measured in the same run) and draws one panel per dataset: the trade-off a
user chooses a method from. Each file names where its numbers come from.

    python benchmarks/tradeoff_figure.py docs/figures/tradeoff.png \
        docs/measured/reproduction_rows.json docs/measured/study_rows.json
"""

import argparse
import json
import pathlib

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TITLES = {"mnist": "MNIST, l_inf 0.3", "fashion_mnist": "Fashion-MNIST, l_inf 0.1"}
STYLES = [dict(marker="o", s=50, color="tab:blue"), dict(marker="*", s=180, color="tab:red")]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("measured", nargs="+", help="JSON files of measured rows")
    args = parser.parse_args()
    sources = [json.loads(pathlib.Path(path).read_text()) for path in args.measured]
    datasets = [d for d in TITLES if any(d in source for source in sources)]
    figure = Figure(figsize=(6.5 * len(datasets), 5))
    FigureCanvasAgg(figure)
    for i, dataset in enumerate(datasets):
        ax = figure.add_subplot(1, len(datasets), i + 1)
        for style, source in zip(STYLES * len(sources), sources):
            rows = source.get(dataset, [])
            if not rows:
                continue
            ax.scatter(
                [r["time_ratio"] for r in rows],
                [100 * r["autoattack"] for r in rows],
                zorder=3,
                label=source["legend"],
                **style,
            )
            for r in rows:
                # A row may set `label_offset` (points) where labels of close rows would overlap.
                ax.annotate(
                    r["label"],
                    (r["time_ratio"], 100 * r["autoattack"]),
                    textcoords="offset points",
                    xytext=r.get("label_offset", (6, 3)),
                    fontsize=8,
                )
        ax.set_xlabel("training time / standard training (same run)")
        ax.set_ylabel("robust accuracy under AutoAttack (%)")
        ax.set_title(TITLES[dataset])
        ax.set_ylim(-3, 100)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="center right", fontsize=8)
    figure.suptitle("Robustness against training cost (Madry et al. CNN, 8 epochs)", fontsize=11)
    figure.tight_layout()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Image grids with matplotlib, without pyplot's global state.

Figures are `matplotlib.figure.Figure` objects rendered by the Agg canvas,
so they work headless, in threads, and in notebooks (which display a
returned `Figure`).
"""

import pathlib
import textwrap

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

SALIENCY_COLORMAP = "RdBu_r"  # red supports the class, blue opposes it


def image_cell(image, value_range, title=""):
    """A grid cell showing an input image `(height, width, channels)`."""
    return {"kind": "image", "data": image, "value_range": value_range, "title": title}


def map_cell(saliency_map, title=""):
    """A grid cell showing a signed map `(height, width)` on a symmetric scale."""
    return {"kind": "map", "data": saliency_map, "title": title}


def _symmetric_limit(saliency_map):
    limit = float(np.max(np.abs(saliency_map)))
    return limit if limit > 0 else 1.0


def _draw(axes, cell):
    data = cell["data"]
    if cell["kind"] == "image":
        low, high = cell["value_range"]
        if data.shape[-1] == 1:
            axes.imshow(data[..., 0], cmap="gray", vmin=low, vmax=high)
        else:
            axes.imshow(np.clip((data - low) / (high - low), 0.0, 1.0))
    else:
        limit = _symmetric_limit(data)
        axes.imshow(data, cmap=SALIENCY_COLORMAP, vmin=-limit, vmax=limit)


def render(rows, column_titles=None, cell_size=1.3, *, title=None, caption=None):
    """A figure with one row of axes per row of cells.

    When there are maps, a colour bar says what their colours mean.

    Args:
        rows: Lists of cells from `image_cell` / `map_cell`, all of one length.
        column_titles: Optional title per column, shown above the first row.
        cell_size: Size of one cell, in inches.
        title: The figure's title, or None.
        caption: Text under the grid (wrapped to the figure's width), or None.

    Returns:
        A `matplotlib.figure.Figure`.
    """
    num_rows, num_columns = len(rows), len(rows[0])
    width = max(num_columns * cell_size, 4.0)  # room for the title and caption
    caption = textwrap.fill(caption, int(width * 16)) if caption else None
    extra = 0.3 + (0.3 if title else 0) + (0.13 * caption.count("\n") + 0.2 if caption else 0)
    figure = Figure(figsize=(width, num_rows * (cell_size + 0.25) + extra), layout="constrained")
    grid = figure.subplots(num_rows, num_columns, squeeze=False)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            axes = grid[r, c]
            _draw(axes, cell)
            axes.set_xticks([])
            axes.set_yticks([])
            label = cell["title"]
            if r == 0 and column_titles:
                label = f"{column_titles[c]}\n{label}" if label else column_titles[c]
            axes.set_title(label, fontsize=7)
    if any(cell["kind"] == "map" for row in rows for cell in row):
        _colorbar(figure, grid)
    if title:
        figure.suptitle(title, fontsize=9)
    if caption:
        figure.supxlabel(caption, fontsize=7)
    return figure


def _colorbar(figure, grid):
    """Each map is drawn on its own symmetric scale: the bar is in units of
    the map's largest absolute value."""
    bar = figure.colorbar(
        ScalarMappable(Normalize(-1.0, 1.0), SALIENCY_COLORMAP),
        ax=grid,
        ticks=[-1, 0, 1],
        shrink=min(1.0, 3.0 / len(grid)),
        aspect=15,
    )
    bar.ax.set_yticklabels(["-max:\nopposes", "0", "+max:\nsupports"], fontsize=6)
    bar.set_label("saliency, per map", fontsize=7)


class Plottable:
    """A result that draws itself with `plot()` and writes that with `save`."""

    def save(self, path, dpi=100):
        """Saves `plot()` to `path` (PNG, PDF, ... from the suffix); returns the path."""
        return save(self.plot(), path, dpi)


def save(figure, path, dpi=100):
    """Writes `figure` to `path` (format from the suffix); returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


def colorize(maps):
    """Signed maps `(n, height, width)` as RGB `(n, height, width, 3)` in
    [0, 1], each on its own symmetric scale, in the figures' colormap."""
    colormap = matplotlib.colormaps[SALIENCY_COLORMAP]
    scaled = [m / _symmetric_limit(m) * 0.5 + 0.5 for m in maps]
    return np.stack([colormap(s)[..., :3] for s in scaled]).astype(np.float32)


def to_rgb(images, value_range):
    """Images `(n, height, width, channels)` as RGB in [0, 1]."""
    low, high = value_range
    scaled = np.clip((images - low) / (high - low), 0.0, 1.0)
    if scaled.shape[-1] == 1:
        scaled = np.repeat(scaled, 3, axis=-1)
    return scaled.astype(np.float32)

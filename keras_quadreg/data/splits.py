"""Split names with an optional slice, as TFDS writes them: `"train[:-1000]"`."""

import re

_SLICED = re.compile(r"^(?P<base>\w+)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def parse(split, info):
    """`(base split, slice)` of a split name such as `"train"` or `"train[-1000:]"`.

    Bounds are example indices, negative ones counted from the end, as in
    Python slices, but within the split (Python would clip them); the slice
    must select at least one example.

    Raises:
        ValueError: For an unknown base split, a bound outside the split or
            an empty selection.
    """
    known = tuple(info.splits)
    match = _SLICED.match(split) if isinstance(split, str) else None
    base = match["base"] if match else split
    if not isinstance(base, str) or base not in known:
        raise ValueError(
            f"Expected `split` to be one of {list(known)}, optionally sliced by example "
            f"indices as in 'train[:-1000]'. Received: split={split!r}"
        )
    if not match:
        return base, slice(None)
    bounds = {k: int(match[k]) for k in ("start", "stop") if match[k]}
    count = info.splits[base]
    outside = {k: v for k, v in bounds.items() if not -count <= v <= count}
    if outside:  # Python would clip them: a wrong count would pass unnoticed
        raise ValueError(
            f"Expected the bounds of the slice of `split` between -{count} and {count}, the "
            f"examples of {info.name} ({base}). Received: split={split!r}"
        )
    selection = slice(bounds.get("start"), bounds.get("stop"))
    if not range(count)[selection]:
        raise ValueError(
            f"Expected the slice of `split` to select at least one of the "
            f"{info.splits[base]} examples of {info.name} ({base}). Received: split={split!r}"
        )
    return base, selection


def size(info, base, selection, limit):
    """The number of examples of a sliced split, after `limit`."""
    count = len(range(info.splits[base])[selection])
    return count if limit is None else min(limit, count)

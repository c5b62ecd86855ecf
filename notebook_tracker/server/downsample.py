"""Downsampling a metric series for plotting: min/max per bucket, vectorised with numpy.

A line chart is a few hundred pixels wide; sending a million points to draw it wastes the
network and the browser. Splitting the series into equal-count buckets along x and keeping,
from each bucket, the points with the smallest and the largest value (in x order) draws the
same envelope as the full series: every spike survives, the global extremes and the first and
last points are always kept. Non-finite values (NaN, inf) never win a bucket; they are
dropped from downsampled output, and kept (as null on the wire) when nothing is dropped.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MAX_POINTS = 1000
MIN_POINTS = 4


def minmax_indices(y: Any, max_points: int) -> Any:
    """Sorted indices of at most `max_points` points of `y` that keep its shape.

    `y` is a 1-D float array in x order. Returns all indices when `len(y) <= max_points`.
    """
    import numpy as np

    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    buckets = (max(int(max_points), MIN_POINTS) - 2) // 2
    # Interior points in equal buckets (the last one padded); first and last are added back.
    interior = n - 2
    size = -(-interior // buckets)
    buckets = -(-interior // size)
    finite = np.isfinite(y[1:-1])
    low = np.full(buckets * size, np.inf)
    high = np.full(buckets * size, -np.inf)
    low[:interior] = np.where(finite, y[1:-1], np.inf)
    high[:interior] = np.where(finite, y[1:-1], -np.inf)
    offsets = np.arange(buckets) * size
    lows = low.reshape(buckets, size).argmin(axis=1) + offsets
    highs = high.reshape(buckets, size).argmax(axis=1) + offsets
    # A bucket with no finite value contributes nothing.
    picked = np.concatenate([lows[np.isfinite(low[lows])], highs[np.isfinite(high[highs])]])
    chosen = np.concatenate([[0, n - 1], picked + 1])
    return np.unique(chosen)


def downsample_history(
    steps: Any, timestamps: Any, values: Any, max_points: int, x: str = "step"
) -> dict[str, Any]:
    """The history payload of the native API, at most `max_points` points, ordered by `x`."""
    import numpy as np

    steps = np.asarray(steps, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    total = len(values)
    if x == "timestamp" and total > 1 and np.any(np.diff(timestamps) < 0):
        order = np.argsort(timestamps, kind="stable")
        steps, timestamps, values = steps[order], timestamps[order], values[order]
    downsampled = total > max_points
    if downsampled:
        idx = minmax_indices(values, max_points)
        idx = idx[np.isfinite(values[idx]) | (idx == 0) | (idx == total - 1)]
        steps, timestamps, values = steps[idx], timestamps[idx], values[idx]
    finite = np.isfinite(values)
    value_list: list[float | None] = values.tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            value_list[i] = None
    return {
        "total": total,
        "downsampled": bool(downsampled),
        "step": steps.tolist(),
        "timestamp": timestamps.tolist(),
        "value": value_list,
    }

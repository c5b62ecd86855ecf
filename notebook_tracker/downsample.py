"""The one downsampler of metric series for plotting: min/max per bucket, vectorised with numpy.

Used by the native API (the sidebar's charts) and by `%compare_runs`'s charts in the kernel.

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
    # Interior points in equal buckets of `size` (a shorter last one); first and last are
    # added back. Buckets are reshaped views: no copy of a million-point series.
    interior = y[1:-1]
    size = -(-len(interior) // buckets)
    whole = len(interior) // size
    finite = bool(np.isfinite(interior).all())
    if not finite:
        low = np.where(np.isfinite(interior), interior, np.inf)
        high = np.where(low == np.inf, -np.inf, interior)
    else:
        low = high = interior
    offsets = np.arange(whole) * size
    lows = [low[: whole * size].reshape(whole, size).argmin(axis=1) + offsets]
    highs = [high[: whole * size].reshape(whole, size).argmax(axis=1) + offsets]
    if whole * size < len(interior):
        lows.append(np.array([whole * size + low[whole * size :].argmin()]))
        highs.append(np.array([whole * size + high[whole * size :].argmax()]))
    picked = np.concatenate(lows + highs)
    if not finite:
        # A bucket with no finite value contributes nothing.
        picked = picked[np.isfinite(interior[picked])]
    return np.unique(np.concatenate([[0, n - 1], picked + 1]))


def ordered(
    steps: Any, timestamps: Any, values: Any, max_points: int, x: str = "step"
) -> tuple[Any, Any, Any, int]:
    """(steps, timestamps, values, total) as numpy arrays ordered by `x` (stable), at most
    `max_points` points of them (min/max per bucket; non-finite values never win a bucket)."""
    import numpy as np

    steps = np.asarray(steps, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    total = len(values)
    key = timestamps if x == "timestamp" else steps
    if total > 1 and np.any(np.diff(key) < 0):
        order = np.argsort(key, kind="stable")
        steps, timestamps, values = steps[order], timestamps[order], values[order]
    if total > max_points:
        idx = minmax_indices(values, max_points)
        idx = idx[np.isfinite(values[idx]) | (idx == 0) | (idx == total - 1)]
        steps, timestamps, values = steps[idx], timestamps[idx], values[idx]
    return steps, timestamps, values, total


def finite_or_none(values: Any) -> list[float | None]:
    """The values as a list with NaN and ±inf as None (JSON's null)."""
    import numpy as np

    value_list: list[float | None] = values.tolist()
    finite = np.isfinite(values)
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            value_list[i] = None
    return value_list


def downsample_history(
    steps: Any, timestamps: Any, values: Any, max_points: int, x: str = "step"
) -> dict[str, Any]:
    """The history payload of the native API, at most `max_points` points, ordered by `x`."""
    steps, timestamps, values, total = ordered(steps, timestamps, values, max_points, x)
    return {
        "total": total,
        "downsampled": total > max_points,
        "step": steps.tolist(),
        "timestamp": timestamps.tolist(),
        "value": finite_or_none(values),
    }

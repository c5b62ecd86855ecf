"""What `%compare_runs`'s interactive charts get from the kernel: runs and downsampled histories.

Everything is sent once, so the front end draws without calling back. Per metric and run, a
history is its total point count and one binary buffer of little-endian float64: the steps,
then the timestamps, then the values (NaN where not finite), in step order. Binary buffers go
over the widget comm as they are: no JSON, no per-point objects. Histories go through the
server's min/max downsampler: a 100,000-point metric costs `max_points` points on the wire.
"""

from __future__ import annotations

import math
from typing import Any

from notebook_tracker.downsample import finite_or_none, ordered
from notebook_tracker.entities import Run
from notebook_tracker.widgets.compare_data import ComparisonData

MAX_POINTS = 1000
MIN_POINTS = 200
# Points per chart, all runs together: the chart aligns every run's steps into one table, so
# its drawing cost grows with runs x points (50 runs x 1,000 points took ~750 ms to draw in
# headless Chromium, x 400 ~360 ms). Few runs keep 1,000 points each.
POINT_BUDGET = 20_000

# [steps, timestamps, values (None where not finite), total points before downsampling]
History = list[Any]
# [total points before downsampling, float64 bytes: steps + timestamps + values]
WireHistory = list[Any]


def run_record(run: Run) -> dict[str, Any]:
    """A run as the sidebar's chart components read it (the native API's run shape)."""
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name or "",
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "params": dict(run.data.params),
        "metrics": {
            k: (v if v is not None and math.isfinite(v) else None)
            for k, v in run.data.metrics.items()
        },
        "tags": {},
    }


def compact_arrays(steps: Any, timestamps: Any, values: Any, max_points: int) -> tuple:
    """(steps, timestamps, values, total) as numpy arrays in step order, at most `max_points`."""
    return ordered(steps, timestamps, values, max_points)


def compact_history(steps: Any, timestamps: Any, values: Any, max_points: int) -> History:
    """A history in step order as lists, at most `max_points` points (min/max per bucket)."""
    steps, timestamps, values, total = compact_arrays(steps, timestamps, values, max_points)
    return [steps.tolist(), timestamps.tolist(), finite_or_none(values), total]


def wire_history(steps: Any, timestamps: Any, values: Any, max_points: int) -> WireHistory:
    """A history as the widget sends it: [total, float64 bytes of steps, timestamps, values]."""
    import numpy as np

    steps, timestamps, values, total = compact_arrays(steps, timestamps, values, max_points)
    values = np.where(np.isfinite(values), values, np.nan)  # inf is not a point either
    packed = np.concatenate([steps, timestamps, values], dtype="<f8")
    return [total, packed.tobytes()]


def unpack_wire(history: WireHistory) -> History:
    """The lists a wire history stands for (what the front end decodes; for tests and tools)."""
    import numpy as np

    total, raw = history
    arr = np.frombuffer(raw, dtype="<f8")
    n = len(arr) // 3
    steps, stamps = arr[:n].astype(np.int64).tolist(), arr[n : 2 * n].astype(np.int64).tolist()
    values = [None if math.isnan(v) else v for v in arr[2 * n :].tolist()]
    return [steps, stamps, values, total]


def points_per_history(runs: int) -> int:
    """How many points each run's history gets when `runs` runs share a chart."""
    return max(MIN_POINTS, min(MAX_POINTS, POINT_BUDGET // max(1, runs)))


def chart_payload(data: ComparisonData, max_points: int | None = None) -> dict[str, Any]:
    """`runs` (list of run records) and `histories` (metric -> run id -> wire history).

    Each history gets `max_points` points, by default `points_per_history(len(runs))`.
    """
    if max_points is None:
        max_points = points_per_history(len(data.runs))
    histories: dict[str, dict[str, WireHistory]] = {}
    for key in data.metric_keys:
        per_run: dict[str, WireHistory] = {}
        for run in data.runs:
            if key not in run.data.metrics:
                continue
            hist = data.history(run.info.run_id, key)
            per_run[run.info.run_id] = wire_history(
                hist.steps, hist.timestamps, hist.values, max_points
            )
        histories[key] = per_run
    return {"runs": [run_record(r) for r in data.runs], "histories": histories}

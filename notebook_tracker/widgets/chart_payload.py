"""What `%compare_runs`'s interactive charts get from the kernel: runs and downsampled histories.

Everything is sent once, as compact arrays (per metric and run: steps, timestamps, values and
the total count), so the front end draws without calling back. Histories go through the
server's min/max downsampler: a 100,000-point metric costs `max_points` points on the wire.
"""

from __future__ import annotations

import math
from typing import Any

from notebook_tracker.entities import Run
from notebook_tracker.server.downsample import minmax_indices
from notebook_tracker.widgets.compare_data import ComparisonData

MAX_POINTS = 1000

# [steps, timestamps, values (None where not finite), total points before downsampling]
History = list[Any]


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


def compact_history(steps: Any, timestamps: Any, values: Any, max_points: int) -> History:
    """A history in step order, at most `max_points` points (min/max per bucket)."""
    import numpy as np

    steps = np.asarray(steps, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    total = len(values)
    if total > 1 and np.any(np.diff(steps) < 0):
        order = np.argsort(steps, kind="stable")
        steps, timestamps, values = steps[order], timestamps[order], values[order]
    if total > max_points:
        idx = minmax_indices(values, max_points)
        steps, timestamps, values = steps[idx], timestamps[idx], values[idx]
    value_list: list[float | None] = values.tolist()
    finite = np.isfinite(values)
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            value_list[i] = None
    return [steps.tolist(), timestamps.tolist(), value_list, total]


def chart_payload(data: ComparisonData, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """`runs` (list of run records) and `histories` (metric -> run id -> compact history)."""
    histories: dict[str, dict[str, History]] = {}
    for key in data.metric_keys:
        per_run: dict[str, History] = {}
        for run in data.runs:
            if key not in run.data.metrics:
                continue
            hist = data.history(run.info.run_id, key)
            per_run[run.info.run_id] = compact_history(
                hist.steps, hist.timestamps, hist.values, max_points
            )
        histories[key] = per_run
    return {"runs": [run_record(r) for r in data.runs], "histories": histories}

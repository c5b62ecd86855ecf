"""Runs as a pandas DataFrame, in the column shape MLflow's `search_runs` users expect.

Built column-wise: each param, metric and tag key becomes one numpy array filled by position
(run_columns.py), so 100,000 runs cost a few vectorised assignments per key rather than a
Python loop per run and key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notebook_tracker.entities import Run
from notebook_tracker.run_columns import INFO_COLUMNS, KeyColumns, RunColumns


def runs_to_frame(runs: Sequence[Run]) -> Any:
    """`run_id, experiment_id, status, artifact_uri, start_time, end_time, metrics.*, params.*,
    tags.*`; times as UTC datetimes; a run lacking a key has NaN/None there."""
    return columns_to_frame(RunColumns.from_runs(runs))


def _columns(found: KeyColumns, size: int, prefix: str, numeric: bool) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for key in sorted(found):
        positions, values = found[key]
        column = np.full(size, np.nan) if numeric else np.full(size, None, dtype=object)
        column[positions] = values
        out[prefix + key] = column
    return out


def columns_to_frame(columns: RunColumns) -> Any:
    """The DataFrame of `runs_to_frame` from runs already in columns (one row per info tuple)."""
    import pandas as pd

    size = len(columns.info)
    fields = list(zip(*columns.info, strict=True)) if size else [() for _ in INFO_COLUMNS]
    data: dict[str, Any] = dict(zip(INFO_COLUMNS, (list(f) for f in fields), strict=True))
    data["experiment_id"] = [str(e) for e in data["experiment_id"]]
    data.update(_columns(columns.metrics, size, "metrics.", numeric=True))
    data.update(_columns(columns.params, size, "params.", numeric=False))
    data.update(_columns(columns.tags, size, "tags.", numeric=False))
    frame = pd.DataFrame(data)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame

"""Runs as a pandas DataFrame, in the column shape MLflow's `search_runs` users expect."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notebook_tracker.entities import Run

_INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def runs_to_frame(runs: Sequence[Run]) -> Any:
    """`run_id, experiment_id, status, artifact_uri, start_time, end_time, metrics.*, params.*,
    tags.*`; times as UTC datetimes; a run lacking a key has NaN/None there."""
    import pandas as pd

    columns: dict[str, list[Any]] = {c: [] for c in _INFO_COLUMNS}
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    param_keys = sorted({k for r in runs for k in r.data.params})
    tag_keys = sorted({k for r in runs for k in r.data.tags})
    for run in runs:
        info = run.info
        columns["run_id"].append(info.run_id)
        columns["experiment_id"].append(info.experiment_id)
        columns["status"].append(info.status)
        columns["artifact_uri"].append(info.artifact_uri)
        columns["start_time"].append(info.start_time)
        columns["end_time"].append(info.end_time)
    nan = float("nan")
    for key in metric_keys:
        columns[f"metrics.{key}"] = [r.data.metrics.get(key, nan) for r in runs]
    for key in param_keys:
        columns[f"params.{key}"] = [r.data.params.get(key) for r in runs]
    for key in tag_keys:
        columns[f"tags.{key}"] = [r.data.tags.get(key) for r in runs]
    frame = pd.DataFrame(columns)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame

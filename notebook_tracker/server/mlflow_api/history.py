"""MLflow's read endpoints for a run's metric histories and artifact listings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from notebook_tracker import wire
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.server.mlflow_api import request
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.service import MlflowApi


def get_metric_history(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    key = req.require("metric_key")
    max_results = req.int64("max_results")
    if max_results is not None and max_results < 1:
        raise InvalidParameter(f"Invalid max_results {max_results}: it must be at least 1.")
    history = api.store.get_metric_history(
        run_id, key, max_results=max_results, page_token=req.string("page_token") or None
    )
    return wire.compact(
        {
            "metrics": _history_json(key, history),
            "next_page_token": getattr(history, "token", None),
        }
    )


def _history_json(key: str, history: Any, run_id: str | None = None) -> list[dict[str, Any]]:
    values = getattr(history, "values", None)
    if values is not None and hasattr(values, "tolist"):
        rows: Iterable[tuple[Any, Any, Any]] = zip(
            values.tolist(), history.timestamps.tolist(), history.steps.tolist(), strict=True
        )
    else:
        rows = ((m.value, m.timestamp, m.step) for m in history)
    out = []
    for value, timestamp, step in rows:
        entry = {"key": key, "value": wire.double(value), "timestamp": timestamp, "step": step}
        if run_id:
            entry["run_id"] = run_id
        out.append(entry)
    return out


def get_history_bulk_interval(api: MlflowApi, req: Params) -> dict[str, Any]:
    """Points of one metric across runs within [start_step, end_step], evenly thinned."""
    run_ids = req.strings("run_ids")
    if not run_ids:
        raise request.missing("run_ids")
    if len(run_ids) > 100:
        raise InvalidParameter(f"At most 100 run_ids per request, got {len(run_ids)}.")
    key = req.require("metric_key")
    start, end = req.int64("start_step"), req.int64("end_step")
    max_results = req.int64("max_results") or 320
    if not 1 <= max_results <= 2500:
        raise InvalidParameter(f"Invalid max_results {max_results}: use 1 to 2500.")
    out: list[dict[str, Any]] = []
    for run_id in run_ids:
        points = [
            m
            for m in api.store.get_metric_history(run_id, key)
            if (start is None or m.step >= start) and (end is None or m.step <= end)
        ]
        if len(points) > max_results:
            stride = len(points) / max_results
            points = [points[int(i * stride)] for i in range(max_results - 1)] + [points[-1]]
        out.extend(_history_json(key, points, run_id))
    return wire.compact({"metrics": out})


def list_artifacts(api: MlflowApi, req: Params) -> dict[str, Any]:
    run = api.store.get_run(req.run_id())
    root = run.info.artifact_uri
    repo = api.artifact_repository(root)
    files = repo.list_artifacts(req.string("path") or None)
    return wire.compact({"root_uri": root, "files": [wire.file_info(f) for f in files]})


ROUTES = [
    ("GET", "metrics/get-history", get_metric_history),
    ("GET", "metrics/get-history-bulk-interval", get_history_bulk_interval),
    ("GET", "artifacts/list", list_artifacts),
]

"""MLflow's REST wire format, both ways: entities <-> protobuf-JSON, and the protocol's limits.

The one place MLflow's JSON is written and read: the server's MLflow-compatible API
(server/mlflow_api/, server/model_registry_api.py) answers with the writers, the REST stores
(store/*rest*.py) send with the writers and read replies with the readers, so the two ends
cannot drift. Runs and experiments are here; `wire.registry` holds registered models and
model versions, `wire.logged_models` logged models and dataset inputs. Protobuf-JSON habits:
unset and empty fields are left out, NaN and ±inf are the strings "NaN", "Infinity",
"-Infinity", int64 may arrive as a string, `RunInfo` carries both `run_id` and the legacy
`run_uuid`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from notebook_tracker.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunTag,
)

API_PREFIX = "api/2.0/mlflow/"
# MLflow's limits on one `runs/log-batch` request: the server refuses more, the client splits.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -- entities -> JSON ----------------------------------------------------------------------
def double(value: float) -> float | str:
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


def compact(fields: dict[str, Any]) -> dict[str, Any]:
    """Leave out what protobuf-JSON leaves out: unset (None), empty strings, empty lists."""
    return {k: v for k, v in fields.items() if v is not None and v != "" and v != []}


def key_values(mapping: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (mapping or {}).items()]


def key_value_list(items: Iterable[Param] | Iterable[RunTag]) -> list[dict[str, str]]:
    return [{"key": i.key, "value": i.value} for i in items]


def experiment(exp: Experiment) -> dict[str, Any]:
    return compact(
        {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "artifact_location": exp.artifact_location,
            "lifecycle_stage": exp.lifecycle_stage,
            "last_update_time": exp.last_update_time,
            "creation_time": exp.creation_time,
            "tags": key_values(exp.tags),
        }
    )


def run_info(info: RunInfo) -> dict[str, Any]:
    return compact(
        {
            "run_id": info.run_id,
            "run_uuid": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
            "lifecycle_stage": info.lifecycle_stage,
        }
    )


def latest_metrics(run: Run, points: Mapping[str, tuple[int, int]] | None = None) -> list:
    """`data.metrics`: the latest value per key, with its (step, timestamp) when known."""
    out = []
    for key, value in run.data.metrics.items():
        entry: dict[str, Any] = {"key": key, "value": double(value)}
        if points and key in points:
            entry["step"], entry["timestamp"] = points[key]
        out.append(entry)
    return out


def run(
    r: Run,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    metric_points: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    return {
        "info": run_info(r.info),
        "data": compact(
            {
                "metrics": latest_metrics(r, metric_points),
                "params": key_values(r.data.params),
                "tags": key_values(r.data.tags),
            }
        ),
        "inputs": inputs or {},
        "outputs": outputs or {},
    }


def metric_point(m: Metric) -> dict[str, Any]:
    """A point as `runs/log-batch` sends it: every field, numbers as protobuf writes them."""
    return {
        "key": m.key,
        "value": double(float(m.value)),
        "timestamp": int(m.timestamp),
        "step": int(m.step),
    }


def metric(m: Metric, run_id: str | None = None) -> dict[str, Any]:
    return compact(
        {
            "key": m.key,
            "value": double(m.value),
            "timestamp": m.timestamp,
            "step": m.step,
            "run_id": run_id,
        }
    )


def file_info(f: FileInfo, strip_prefix: str = "") -> dict[str, Any]:
    path = f.path[len(strip_prefix) :].lstrip("/") if strip_prefix else f.path
    return compact({"path": path, "is_dir": f.is_dir, "file_size": f.file_size})


def dumps(payload: Any) -> bytes:
    """JSON that strict parsers accept: a NaN that escaped `double()` is a bug, not output."""
    return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")


# -- JSON -> entities ----------------------------------------------------------------------
def double_in(value: Any) -> float:
    if isinstance(value, str):
        return SPECIAL_DOUBLES[value] if value in SPECIAL_DOUBLES else float(value)
    return float(value)


def int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def key_value_dict(items: Any) -> dict[str, str]:
    """MLflow's `[{key, value}]` lists (or an already-made dict) as a dict."""
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    return {i["key"]: i.get("value", "") for i in items or []}


def experiment_from_json(e: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(e["experiment_id"]),
        name=e.get("name", ""),
        artifact_location=e.get("artifact_location", ""),
        lifecycle_stage=e.get("lifecycle_stage", LifecycleStage.ACTIVE),
        tags=key_value_dict(e.get("tags")),
        creation_time=int_or_none(e.get("creation_time")),
        last_update_time=int_or_none(e.get("last_update_time")),
    )


def run_info_from_json(i: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=i.get("run_id") or i["run_uuid"],
        experiment_id=str(i.get("experiment_id", "")),
        run_name=i.get("run_name", ""),
        user_id=i.get("user_id", ""),
        status=i.get("status", "RUNNING"),
        start_time=int_or_none(i.get("start_time")) or 0,
        end_time=int_or_none(i.get("end_time")),
        artifact_uri=i.get("artifact_uri", ""),
        lifecycle_stage=i.get("lifecycle_stage", LifecycleStage.ACTIVE),
    )


def run_from_json(r: dict[str, Any]) -> Run:
    data = r.get("data") or {}
    metrics = {m["key"]: double_in(m.get("value", 0.0)) for m in data.get("metrics") or []}
    return Run(
        info=run_info_from_json(r["info"]),
        data=RunData(
            metrics=metrics,
            params=key_value_dict(data.get("params")),
            tags=key_value_dict(data.get("tags")),
        ),
    )


def point_from_json(m: dict[str, Any]) -> tuple[int, int, float]:
    """(step, timestamp, value) of one point of `metrics/get-history`."""
    return int(m.get("step", 0)), int(m.get("timestamp", 0)), double_in(m.get("value", 0.0))

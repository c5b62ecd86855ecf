"""MLflow 3's logged models and dataset inputs on the wire, both ways: `LoggedModel` (with its
tags, params and metrics) and `DatasetInput` <-> protobuf-JSON.

A logged model is `{info, data}`: tags live in `info`, params and metrics in `data`; each
metric repeats the model's id.
"""

from __future__ import annotations

from typing import Any

from notebook_tracker.entities.logged_models import DatasetInput, LoggedModel, ModelMetric
from notebook_tracker.wire import compact, double, double_in, key_value_dict, key_values


# -- entities -> JSON ----------------------------------------------------------------------
def logged_model(model: LoggedModel) -> dict[str, Any]:
    info = compact(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp_ms,
            "last_updated_timestamp_ms": model.last_updated_timestamp_ms,
            "artifact_uri": model.artifact_uri,
            "status": model.status,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status_message": model.status_message,
            "tags": key_values(model.tags),
        }
    )
    metrics = [
        compact(
            {
                "key": m.key,
                "value": double(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
                "run_id": m.run_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
                "model_id": model.model_id,
            }
        )
        for m in model.metrics
    ]
    data = compact({"params": key_values(model.params), "metrics": metrics})
    return {"info": info, "data": data}


def dataset_input(d: DatasetInput) -> dict[str, Any]:
    return compact(
        {
            "tags": key_values(d.tags),
            "dataset": compact(
                {
                    "name": d.name,
                    "digest": d.digest,
                    "source_type": d.source_type,
                    "source": d.source,
                    "schema": d.schema,
                    "profile": d.profile,
                }
            ),
        }
    )


# -- JSON -> entities ----------------------------------------------------------------------
def _int(value: Any) -> int:
    return int(value or 0)


def logged_model_from_json(m: dict[str, Any]) -> LoggedModel:
    info, data = m.get("info") or {}, m.get("data") or {}
    return LoggedModel(
        model_id=info["model_id"],
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("name", ""),
        artifact_uri=info.get("artifact_uri", ""),
        status=info.get("status", ""),
        creation_timestamp_ms=_int(info.get("creation_timestamp_ms")),
        last_updated_timestamp_ms=_int(info.get("last_updated_timestamp_ms")),
        model_type=info.get("model_type") or None,
        source_run_id=info.get("source_run_id") or None,
        status_message=info.get("status_message") or None,
        tags=key_value_dict(info.get("tags")),
        params=key_value_dict(data.get("params")),
        metrics=[
            ModelMetric(
                key=p["key"],
                value=double_in(p.get("value", 0.0)),
                timestamp=_int(p.get("timestamp")),
                step=_int(p.get("step")),
                run_id=p.get("run_id") or None,
                dataset_name=p.get("dataset_name") or None,
                dataset_digest=p.get("dataset_digest") or None,
                model_id=info["model_id"],
            )
            for p in data.get("metrics") or []
        ],
    )


def dataset_input_from_json(item: dict[str, Any]) -> DatasetInput:
    d = item.get("dataset") or {}
    return DatasetInput(
        name=d.get("name", ""),
        digest=d.get("digest", ""),
        source_type=d.get("source_type", ""),
        source=d.get("source", ""),
        schema=d.get("schema") or None,
        profile=d.get("profile") or None,
        tags=key_value_dict(item.get("tags")),
    )

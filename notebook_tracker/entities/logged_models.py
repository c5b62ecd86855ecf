"""MLflow 3's LoggedModel and what runs use and produce (datasets, model links)."""

from __future__ import annotations

from dataclasses import dataclass, field

PENDING = "LOGGED_MODEL_PENDING"
READY = "LOGGED_MODEL_READY"
UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"
STATUSES = (PENDING, READY, UPLOAD_FAILED)


@dataclass
class ModelMetric:
    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    model_id: str | None = None


@dataclass
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: str
    creation_timestamp_ms: int
    last_updated_timestamp_ms: int
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)


@dataclass
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

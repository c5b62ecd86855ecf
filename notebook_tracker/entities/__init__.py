"""Value objects of the tracking domain, shaped like MLflow's so code written for it reads them.

The model registry's are in `entities.registry`, MLflow 3's logged models' in
`entities.logged_models`. These modules import nothing of this package: every layer may use them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar


class RunStatus:
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINATED = (FINISHED, FAILED, KILLED)

    @classmethod
    def is_terminated(cls, status: str) -> bool:
        return status in cls.TERMINATED


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType:
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    @classmethod
    def stages(cls, view_type: str | int | None) -> tuple[str, ...]:
        # MLflow's enum numbers (1, 2, 3) are accepted too: its clients send either.
        v = {1: cls.ACTIVE_ONLY, 2: cls.DELETED_ONLY, 3: cls.ALL}.get(view_type, view_type)  # type: ignore[arg-type]
        v = (v or cls.ACTIVE_ONLY).upper() if isinstance(v, str) else cls.ACTIVE_ONLY
        if v == cls.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if v == cls.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        if v == cls.ALL:
            return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
        from notebook_tracker.errors import InvalidParameter

        raise InvalidParameter(
            f"Unknown view type {view_type!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL."
        )


class Metric:
    """One point of a metric series. A slotted class: histories hold millions of them."""

    __slots__ = ("key", "value", "timestamp", "step")

    def __init__(self, key: str, value: float, timestamp: int, step: int = 0) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metric) and (self.key, self.value, self.timestamp, self.step) == (
            other.key,
            other.value,
            other.timestamp,
            other.step,
        )

    def __repr__(self) -> str:
        return (
            f"Metric(key={self.key!r}, value={self.value!r}, "
            f"timestamp={self.timestamp!r}, step={self.step!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "timestamp": self.timestamp,
            "step": self.step,
        }


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


ExperimentTag = RunTag


@dataclass
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    info: RunInfo
    data: RunData

    @property
    def parent_run_id(self) -> str | None:
        return self.data.tags.get("mlflow.parentRunId")

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "info": {**self.info.__dict__, "run_uuid": self.info.run_id},
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
        }


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None


T = TypeVar("T")


class PagedList(list, Generic[T]):
    """A list of results with the opaque token that fetches the next page (None on the last)."""

    def __init__(self, items: Iterator[T] | list[T], token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


class MetricHistory(Sequence):
    """A metric's points in (step, timestamp) order, held as three numpy arrays.

    Reads like a list of `Metric` (indexing, iteration, len), so MLflow-style code works, while
    a million-point history costs three arrays instead of a million objects. `.steps`,
    `.timestamps`, `.values` and `to_pandas()` give the columns directly.
    """

    def __init__(
        self, key: str, steps: Any, timestamps: Any, values: Any, token: str | None = None
    ):
        self.key = key
        self.steps = steps
        self.timestamps = timestamps
        self.values = values
        self.token = token

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return MetricHistory(
                self.key, self.steps[index], self.timestamps[index], self.values[index]
            )
        return Metric(
            self.key,
            float(self.values[index]),
            int(self.timestamps[index]),
            int(self.steps[index]),
        )

    def __iter__(self) -> Iterator[Metric]:
        key = self.key
        for value, timestamp, step in zip(
            self.values.tolist(), self.timestamps.tolist(), self.steps.tolist(), strict=True
        ):
            yield Metric(key, value, timestamp, step)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, MetricHistory)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __repr__(self) -> str:
        return f"MetricHistory(key={self.key!r}, points={len(self)})"

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {"step": self.steps, "timestamp": self.timestamps, "value": self.values}
        )

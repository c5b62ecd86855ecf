"""Value objects of the tracking domain, shaped like MLflow's so code written for it reads them.

The model registry's are in `entities.registry`, MLflow 3's logged models' in
`entities.logged_models`. These modules import nothing of this package: every layer may use them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


class _Value:
    """Equality and repr by `_fields`, as a dataclass has them. Written out by hand: the
    `dataclasses` module (with `inspect`) costs a fresh process's first point several ms."""

    _fields: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable: unhashable, as dataclasses make it

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({inner})"


class _FrozenValue(_Value):
    """A `_Value` that cannot change after `__init__`, hashable by its fields."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")


class Param(_FrozenValue):
    _fields = ("key", "value")
    key: str
    value: str

    def __init__(self, key: str, value: str) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)


class RunTag(_FrozenValue):
    _fields = ("key", "value")
    key: str
    value: str

    def __init__(self, key: str, value: str) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", value)


ExperimentTag = RunTag


class Experiment(_Value):
    _fields = (
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "tags",
        "creation_time",
        "last_update_time",
    )

    def __init__(
        self,
        experiment_id: str,
        name: str,
        artifact_location: str,
        lifecycle_stage: str = LifecycleStage.ACTIVE,
        tags: dict[str, str] | None = None,
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> None:
        self.experiment_id = experiment_id
        self.name = name
        self.artifact_location = artifact_location
        self.lifecycle_stage = lifecycle_stage
        self.tags: dict[str, str] = {} if tags is None else tags
        self.creation_time = creation_time
        self.last_update_time = last_update_time


class RunInfo(_Value):
    _fields = (
        "run_id",
        "experiment_id",
        "run_name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "artifact_uri",
        "lifecycle_stage",
    )

    def __init__(
        self,
        run_id: str,
        experiment_id: str,
        run_name: str,
        user_id: str,
        status: str,
        start_time: int,
        end_time: int | None,
        artifact_uri: str,
        lifecycle_stage: str = LifecycleStage.ACTIVE,
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.run_name = run_name
        self.user_id = user_id
        self.status = status
        self.start_time = start_time
        self.end_time = end_time
        self.artifact_uri = artifact_uri
        self.lifecycle_stage = lifecycle_stage

    @property
    def run_uuid(self) -> str:
        return self.run_id


class RunData(_Value):
    _fields = ("metrics", "params", "tags")

    def __init__(
        self,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.metrics: dict[str, float] = {} if metrics is None else metrics
        self.params: dict[str, str] = {} if params is None else params
        self.tags: dict[str, str] = {} if tags is None else tags


class Run(_Value):
    _fields = ("info", "data")

    def __init__(self, info: RunInfo, data: RunData) -> None:
        self.info = info
        self.data = data

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


class FileInfo(_FrozenValue):
    _fields = ("path", "is_dir", "file_size")
    path: str
    is_dir: bool
    file_size: int | None

    def __init__(self, path: str, is_dir: bool, file_size: int | None = None) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "is_dir", is_dir)
        object.__setattr__(self, "file_size", file_size)


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

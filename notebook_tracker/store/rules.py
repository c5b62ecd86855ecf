"""What the tracking and logged-model stores accept, checked inside every implementation (SQL
and REST) so that each entry point (Python API, magics, servers) refuses the same things with
the same message. Keys and values follow `validation.py`; lengths follow the columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from notebook_tracker import validation
from notebook_tracker.entities import Param, RunTag
from notebook_tracker.errors import InvalidParameter

if TYPE_CHECKING:
    from notebook_tracker.entities.logged_models import DatasetInput

MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256
MAX_MODEL_NAME_LENGTH = 500
MAX_DATASET_NAME_LENGTH = 500
MAX_DIGEST_LENGTH = 64
MAX_SOURCE_TYPE_LENGTH = 64


def text(name: str, value: str, max_length: int | None = None) -> str:
    """Text a database can store: no NUL character, and within the column's length."""
    if "\x00" in value:
        raise InvalidParameter(f"Invalid value for parameter '{name}': it contains a NUL byte.")
    if max_length is not None and len(value) > max_length:
        raise InvalidParameter(
            f"Invalid value for parameter '{name}': {len(value)} characters, at most "
            f"{max_length} are allowed."
        )
    return value


def tag(key: Any, value: Any) -> RunTag:
    validation.validate_key(key, "tag")
    checked = validation.tag_value(value, key)
    if key == "mlflow.runName":  # it is also the run's name, a shorter column
        text(key, checked, MAX_RUN_NAME_LENGTH)
    elif key == "mlflow.user":
        text(key, checked, MAX_USER_ID_LENGTH)
    return RunTag(key, checked)


def param(key: Any, value: Any) -> Param:
    validation.validate_key(key, "param")
    return Param(key, validation.param_value(value, key))


def batch(
    metric_keys: Iterable[str], params: Sequence[Param], tags: Sequence[RunTag]
) -> tuple[list[Param], list[RunTag]]:
    """Checks a log-batch; returns its params and tags with values as stored (text)."""
    for key in metric_keys:
        validation.validate_key(key, "metric")
    return [param(p.key, p.value) for p in params], [tag(t.key, t.value) for t in tags]


def tag_map(tags: dict[str, Any] | None) -> dict[str, str]:
    return {t.key: t.value for t in (tag(k, v) for k, v in (tags or {}).items())}


def param_map(params: dict[str, Any] | None) -> dict[str, str]:
    return {p.key: p.value for p in (param(k, v) for k, v in (params or {}).items())}


def optional_text(name: str, value: str | None, max_length: int) -> str | None:
    return text(name, value, max_length) if value else None


def dataset(d: DatasetInput) -> DatasetInput:
    text("name", d.name, MAX_DATASET_NAME_LENGTH)
    text("digest", d.digest, MAX_DIGEST_LENGTH)
    text("source_type", d.source_type, MAX_SOURCE_TYPE_LENGTH)
    text("source", d.source)
    return d

"""Search filters over logged models: the run-search grammar with a model's attributes.

`name = 'model' AND metrics.acc > 0.9 AND params.alpha = '0.5' AND tags.stage = 'prod'`;
attributes: name, model_id, status, model_type, source_run_id, creation_timestamp,
last_updated_timestamp. Clauses are evaluated in Python over the candidate models.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from notebook_tracker.search import Comparison, _Grammar, _parse

if TYPE_CHECKING:
    from notebook_tracker.store.logged_models import LoggedModel

_MODELS = _Grammar(
    subject="logged models",
    entities=("metric", "param", "tag", "attribute"),
    prefixes={
        "metric": "metric", "metrics": "metric",
        "param": "param", "params": "param",
        "tag": "tag", "tags": "tag",
        "attribute": "attribute", "attributes": "attribute",
    },
    string_attributes=("name", "status", "model_type", "source_run_id"),
    id_attributes=("model_id",),
    numeric_attributes=("creation_timestamp", "last_updated_timestamp"),
    aliases={
        "creation_time": "creation_timestamp",
        "creation_timestamp_ms": "creation_timestamp",
        "last_updated_timestamp_ms": "last_updated_timestamp",
        "run_id": "source_run_id",
    },
)  # fmt: skip


@functools.lru_cache(maxsize=128)
def _parse_cached(text: str) -> tuple[Comparison, ...]:
    return _parse(text, _MODELS)


def parse(filter_string: str | None) -> tuple[Comparison, ...]:
    return _parse_cached(filter_string) if filter_string and filter_string.strip() else ()


def _attribute(model: LoggedModel, key: str) -> Any:
    if key == "creation_timestamp":
        return model.creation_timestamp_ms
    if key == "last_updated_timestamp":
        return model.last_updated_timestamp_ms
    if key == "status":
        return model.status.removeprefix("LOGGED_MODEL_")
    return getattr(model, key, None)


def _latest_metric(model: LoggedModel, key: str) -> float | None:
    points = [m for m in model.metrics if m.key == key]
    if not points:
        return None
    return max(points, key=lambda m: (m.step, m.timestamp)).value


def _like(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "IS NULL":
        return actual is None
    if op == "IS NOT NULL":
        return actual is not None
    if actual is None:
        return False
    if op == "IN":
        return actual in expected
    if op == "NOT IN":
        return actual not in expected
    if op in ("LIKE", "ILIKE"):
        return _like(expected, op == "LIKE").fullmatch(str(actual)) is not None
    if isinstance(actual, float) and math.isnan(actual):
        return op == "!="
    if isinstance(expected, str) and not isinstance(actual, str):
        actual = str(actual)
    try:
        return {
            "=": actual == expected,
            "!=": actual != expected,
            ">": actual > expected,
            ">=": actual >= expected,
            "<": actual < expected,
            "<=": actual <= expected,
        }[op]
    except TypeError:
        return False


def matches(model: LoggedModel, clauses: Sequence[Comparison]) -> bool:
    for c in clauses:
        if c.entity == "metric":
            actual: Any = _latest_metric(model, c.key)
        elif c.entity == "param":
            actual = model.params.get(c.key)
        elif c.entity == "tag":
            actual = model.tags.get(c.key)
        else:
            actual = _attribute(model, c.key)
            if c.key == "status" and isinstance(c.value, str):
                c = Comparison(c.entity, c.key, c.op, c.value.removeprefix("LOGGED_MODEL_"))
        if not _compare(actual, c.op, c.value):
            return False
    return True


def sort_key(model: LoggedModel, field_name: str) -> tuple[int, Any]:
    """Models lacking the field sort last in ascending order."""
    name = field_name.lower()
    if name.startswith(("metrics.", "metric.")):
        value: Any = _latest_metric(model, field_name.split(".", 1)[1])
    elif name.startswith(("params.", "param.")):
        value = model.params.get(field_name.split(".", 1)[1])
    elif name.startswith(("tags.", "tag.")):
        value = model.tags.get(field_name.split(".", 1)[1])
    else:
        key = _MODELS.aliases.get(name.removeprefix("attributes."), name)
        value = _attribute(model, key.removeprefix("attributes."))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0)
    return (0, value)

"""Search of logged models, compiled to one SQL SELECT like the run search (`sql_search.py`).

The public grammar (`search.py`, kind "logged_models"): `name = 'model' AND metrics.acc > 0.9
AND params.alpha = '0.5' AND tags.stage = 'prod' AND status = 'READY'`; attributes: name,
model_id, status (with or without its LOGGED_MODEL_ prefix), model_type, source_run_id,
creation_timestamp, last_updated_timestamp. A metric is the model's latest point of that key
(highest step, then timestamp, then the first written); a NaN matches only `!=`. Ordering puts
models lacking the field (or whose metric is NaN) last in both directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
)

from notebook_tracker import search
from notebook_tracker.entities import LifecycleStage
from notebook_tracker.errors import FilterSyntaxError, InvalidParameter
from notebook_tracker.store.logged_model_base import SEARCH_MAX_RESULTS
from notebook_tracker.store.schema import logged_model_metrics as metrics_t
from notebook_tracker.store.schema import logged_model_params as params_t
from notebook_tracker.store.schema import logged_model_tags as tags_t
from notebook_tracker.store.schema import logged_models as models_t
from notebook_tracker.store.sql_search import compare, text_order

KIND = "logged_models"
_STATUS_PREFIX = "LOGGED_MODEL_"
_COLUMNS: dict[str, ColumnElement[Any]] = {
    "name": models_t.c.name,
    "model_id": models_t.c.model_id,
    "status": func.replace(models_t.c.status, _STATUS_PREFIX, ""),
    "model_type": models_t.c.model_type,
    "source_run_id": models_t.c.source_run_id,
    "creation_timestamp": models_t.c.creation_timestamp_ms,
    "last_updated_timestamp": models_t.c.last_updated_timestamp_ms,
}
_TEXT = frozenset({"name", "model_id", "status", "model_type", "source_run_id"})
_KEY_VALUE = {"param": params_t, "tag": tags_t}


def check_max(max_results: int) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidParameter(f"Invalid max_results {max_results!r}: expected a number.")
    if not 1 <= max_results <= SEARCH_MAX_RESULTS:
        raise InvalidParameter(
            f"Invalid max_results {max_results}: it must be between 1 and {SEARCH_MAX_RESULTS}."
        )
    return max_results


def _latest(key: str) -> Subquery:
    """(model_id, value, is_nan) of each model's latest point of metric `key`."""
    point, newer = metrics_t.alias(), metrics_t.alias()
    later = or_(
        newer.c.step > point.c.step,
        and_(newer.c.step == point.c.step, newer.c.timestamp > point.c.timestamp),
        and_(
            newer.c.step == point.c.step,
            newer.c.timestamp == point.c.timestamp,
            newer.c.id < point.c.id,
        ),
    )
    superseded = exists().where(
        newer.c.model_id == point.c.model_id, newer.c.key == point.c.key, later
    )
    return (
        select(point.c.model_id, point.c.value, point.c.is_nan)
        .where(point.c.key == key, ~superseded)
        .subquery()
    )


def _status(value: Any) -> Any:
    if isinstance(value, str):
        return value.removeprefix(_STATUS_PREFIX)
    if isinstance(value, tuple):
        return tuple(v.removeprefix(_STATUS_PREFIX) for v in value)
    return value


def _clause(c: search.Comparison) -> ColumnElement[bool]:
    if c.entity == "metric":
        latest = _latest(c.key)
        value_ok: ColumnElement[bool]
        if c.op == "!=":
            value_ok = (latest.c.is_nan == true()) | (latest.c.value != c.value)
        else:
            value_ok = and_(latest.c.is_nan == false(), compare(latest.c.value, c.op, c.value))
        return exists().where(latest.c.model_id == models_t.c.model_id, value_ok)
    if c.entity in _KEY_VALUE:
        kv = _KEY_VALUE[c.entity].alias()
        present = exists().where(kv.c.model_id == models_t.c.model_id, kv.c.key == c.key)
        if c.op == "IS NULL":
            return ~present
        if c.op == "IS NOT NULL":
            return present
        return present.where(compare(kv.c.value, c.op, c.value))
    value = _status(c.value) if c.key == "status" else c.value
    return compare(_COLUMNS[c.key], c.op, value)


def _order_term(field: str, ascending: bool) -> search.OrderTerm:
    terms = search.parse_order_by_of(KIND, [field])
    if len(terms) != 1 or field.strip().upper().endswith((" ASC", " DESC")):
        raise FilterSyntaxError(
            f"Invalid order_by field {field!r}: name one field (ascending is a separate flag)."
        )
    return search.OrderTerm(terms[0].entity, terms[0].key, ascending)


def _ordering(order_by: Sequence[tuple[str, bool]]) -> tuple[FromClause, list[Any]]:
    from_: FromClause = models_t
    clauses: list[Any] = []
    terms = [_order_term(f, a) for f, a in order_by] or [
        search.OrderTerm("attribute", "creation_timestamp", False)
    ]
    for term in terms:
        value: ColumnElement[Any]
        if term.entity == "attribute":
            column = _COLUMNS[term.key]
            value = text_order(column) if term.key in _TEXT else column
            clauses.append(case((column.is_(None), 1), else_=0))
        elif term.entity == "metric":
            latest = _latest(term.key)
            from_ = from_.outerjoin(latest, latest.c.model_id == models_t.c.model_id)
            missing = or_(latest.c.model_id.is_(None), latest.c.is_nan == true())
            clauses.append(case((missing, 1), else_=0))
            value = latest.c.value
        else:
            kv = _KEY_VALUE[term.entity].alias()
            from_ = from_.outerjoin(
                kv, and_(kv.c.model_id == models_t.c.model_id, kv.c.key == term.key)
            )
            clauses.append(case((kv.c.model_id.is_(None), 1), else_=0))
            value = text_order(kv.c.value)
        clauses.append(value.asc() if term.ascending else value.desc())
    clauses.append(models_t.c.model_id.asc())  # a total order, so offset paging is stable
    return from_, clauses


def build_search(
    experiment_ids: Sequence[int],
    filter_string: str | None,
    order_by: Sequence[tuple[str, bool]],
    offset: int,
    limit: int,
) -> Select[Any]:
    """SELECT of the model_id of one page of active matching models, in order."""
    comparisons = search.parse_filter_of(KIND, filter_string)
    from_, ordering = _ordering(order_by)
    return (
        select(models_t.c.model_id)
        .select_from(from_)
        .where(
            models_t.c.experiment_id.in_(list(experiment_ids)),
            models_t.c.lifecycle_stage == LifecycleStage.ACTIVE,
            *(_clause(c) for c in comparisons),
        )
        .order_by(*ordering)
        .offset(offset)
        .limit(limit)
    )

"""Search filters and ordering of the model registry, compiled to SQLAlchemy clauses.

The public filter grammar (`search.py`, kinds "registered_models" and "model_versions"): registered
models by `name`, timestamps and `tags.<key>`; versions by `name`, `run_id`, `source`,
`version_number`, `current_stage`, timestamps and `tags.<key>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists

from notebook_tracker import search
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store import sql_search
from notebook_tracker.store.registry_schema import model_version_tags as mv_tags_t
from notebook_tracker.store.registry_schema import model_versions as versions_t
from notebook_tracker.store.registry_schema import registered_model_tags as rm_tags_t
from notebook_tracker.store.registry_schema import registered_models as models_t

MODELS = "registered_models"
VERSIONS = "model_versions"


def parse(filter_string: str | None, kind: str) -> list[search.Comparison]:
    return search.parse_filter_of(kind, filter_string)


def check_max(max_results: int, limit: int = 1000) -> int:
    if not isinstance(max_results, int) or max_results < 1 or max_results > limit:
        raise InvalidParameter(f"Invalid max_results {max_results!r}: use 1 to {limit}.")
    return max_results


def _tag_clause(c: search.Comparison, present: Any, value: Any) -> Any:
    """A tag comparison; `!=` also matches entities without the tag (MLflow's clients add
    "tags.`mlflow.prompt.is_prompt` != 'true'" to every search and expect untagged models)."""
    if c.op == "IS NULL":
        return ~present
    if c.op == "IS NOT NULL":
        return present
    if c.op == "!=":
        return ~present.where(value == c.value)
    return present.where(sql_search.compare(value, c.op, c.value))


def model_clause(c: search.Comparison) -> Any:
    if c.entity == "tag":
        kv = rm_tags_t.alias()
        present = exists().where(kv.c.name == models_t.c.name, kv.c.key == c.key)
        return _tag_clause(c, present, kv.c.value)
    column = {
        "name": models_t.c.name,
        "creation_timestamp": models_t.c.creation_time,
        "last_updated_timestamp": models_t.c.last_updated_time,
    }[c.key]
    return sql_search.compare(column, c.op, c.value)


def version_clause(c: search.Comparison) -> Any:
    if c.entity == "tag":
        kv = mv_tags_t.alias()
        present = exists().where(
            kv.c.name == versions_t.c.name, kv.c.version == versions_t.c.version, kv.c.key == c.key
        )
        return _tag_clause(c, present, kv.c.value)
    column = {
        "name": versions_t.c.name,
        "source": versions_t.c.source,
        "current_stage": versions_t.c.current_stage,
        "run_id": versions_t.c.run_id,
        "version_number": versions_t.c.version,
        "creation_timestamp": versions_t.c.creation_time,
        "last_updated_timestamp": versions_t.c.last_updated_time,
    }[c.key]
    return sql_search.compare(column, c.op, c.value)


def ordering(
    order_by: Sequence[str] | None, kind: str, columns: dict[str, Any], tiebreak: Any
) -> list[Any]:
    out = []
    for term in search.parse_order_by_of(kind, order_by):
        column = columns.get(term.key)
        if column is None:
            raise InvalidParameter(
                f"Cannot order {search.subject_of(kind)} by {term.key!r}: use one of "
                f"{', '.join(columns)}."
            )
        out.append(column.asc() if term.ascending else column.desc())
    if tiebreak is not None:
        out.append(tiebreak)
    return out

"""Search filters and ordering of the model registry, compiled to SQLAlchemy clauses.

The tracking layer's filter grammar (`search.py`) with the registry's fields: registered
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

MODELS_GRAMMAR = search._Grammar(
    subject="registered models",
    entities=("tag", "attribute"),
    prefixes={"tag": "tag", "tags": "tag", "attribute": "attribute", "attributes": "attribute"},
    string_attributes=("name",),
    numeric_attributes=("creation_timestamp", "last_updated_timestamp"),
    aliases={"timestamp": "creation_timestamp"},
)
VERSIONS_GRAMMAR = search._Grammar(
    subject="model versions",
    entities=("tag", "attribute"),
    prefixes={"tag": "tag", "tags": "tag", "attribute": "attribute", "attributes": "attribute"},
    string_attributes=("name", "source", "current_stage"),
    numeric_attributes=("version_number", "creation_timestamp", "last_updated_timestamp"),
    id_attributes=("run_id",),
    aliases={"source_path": "source", "version": "version_number"},
)


def parse(filter_string: str | None, grammar: Any) -> tuple[search.Comparison, ...]:
    return search._parse(filter_string, grammar) if filter_string else ()


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
    return present.where(sql_search._compare(value, c.op, c.value))


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
    return sql_search._compare(column, c.op, c.value)


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
    return sql_search._compare(column, c.op, c.value)


def ordering(
    order_by: Sequence[str] | None, grammar: Any, columns: dict[str, Any], tiebreak: Any
) -> list[Any]:
    if isinstance(order_by, str):
        order_by = [order_by]
    out = []
    for entry in order_by or ():
        term = search._parse_order(entry, grammar)
        column = columns.get(term.key)
        if column is None:
            raise InvalidParameter(
                f"Cannot order {grammar.subject} by {entry!r}: use one of {', '.join(columns)}."
            )
        out.append(column.asc() if term.ascending else column.desc())
    if tiebreak is not None:
        out.append(tiebreak)
    return out

"""Params, latest metrics and tags of many runs as (run_id, key, value) rows, for RunColumns.

The ids are bound as one value (a JSON array on SQLite, an array on PostgreSQL), not as one
parameter each: a 50,000-id page would otherwise cost more to bind than to read. Rows come
straight from the driver's cursor, which skips a per-row wrapper on a million-row page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, String, any_, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import JSON

from notebook_tracker.store.schema import latest_metrics, params, tags


def _in_ids(conn: Connection, column: ColumnElement[Any], ids: list[str]) -> ColumnElement[bool]:
    if conn.dialect.name == "sqlite":
        each = func.json_each(bindparam("ids_json", ids, type_=JSON)).table_valued("value")
        return column.in_(select(each.c.value))
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("ids_array", ids, type_=ARRAY(String)))
    return column.in_(ids)


def _rows(conn: Connection, stmt: Any) -> list[Any]:
    result = conn.execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def read_key_values(conn: Connection, ids: list[str]) -> tuple[list[Any], list[Any], list[Any]]:
    """(params, metrics, tags) rows of these runs; a NaN metric's value is None."""
    if not ids:
        return [], [], []
    lm = latest_metrics
    metric_value = case((lm.c.is_nan, None), else_=lm.c.value)
    return (
        _rows(
            conn,
            select(params.c.run_uuid, params.c.key, params.c.value).where(
                _in_ids(conn, params.c.run_uuid, ids)
            ),
        ),
        _rows(
            conn,
            select(lm.c.run_uuid, lm.c.key, metric_value).where(_in_ids(conn, lm.c.run_uuid, ids)),
        ),
        _rows(
            conn,
            select(tags.c.run_uuid, tags.c.key, tags.c.value).where(
                _in_ids(conn, tags.c.run_uuid, ids)
            ),
        ),
    )


__all__ = ["read_key_values"]

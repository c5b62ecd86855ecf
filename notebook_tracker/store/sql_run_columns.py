"""Params, latest metrics and tags of a page of runs as (position, key, value) rows, for
RunColumns: the position is the run's index in the page, so no run id is read back or hashed.

The ids are bound as one value and joined as a table with each id's position (json_each on
SQLite, unnest WITH ORDINALITY on PostgreSQL): a 50,000-id page would otherwise cost more to
bind than to read. Rows come straight from the driver's cursor, which skips a per-row wrapper
on a million-row page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, String, Table, bindparam, case, func, select
from sqlalchemy.types import JSON

from notebook_tracker.store.schema import latest_metrics, params, tags


def _positions(conn: Connection, ids: list[str]) -> tuple[Any, Any, Any]:
    """(FROM clause of (id, position) rows, its id column, its 0-based position column)."""
    if conn.dialect.name == "postgresql":
        # Imported here: loading the PostgreSQL dialect slows every SQLite store's first write.
        from sqlalchemy.dialects.postgresql import ARRAY

        bound = bindparam("ids_array", ids, type_=ARRAY(String))
        each = func.unnest(bound).table_valued("id", with_ordinality="pos").render_derived()
        return each, each.c.id, each.c.pos - 1
    each = func.json_each(bindparam("ids_json", ids, type_=JSON)).table_valued("key", "value")
    return each, each.c.value, each.c.key


def fetch_all(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """All rows as the driver's tuples (no type processing: plain columns only)."""
    result = conn.execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _of(conn: Connection, table: Table, value: Any, ids: list[str]) -> list[tuple[Any, ...]]:
    each, run_id, position = _positions(conn, ids)
    joined = each.join(table, table.c.run_uuid == run_id)
    return fetch_all(conn, select(position, table.c.key, value).select_from(joined))


def read_key_values(
    conn: Connection, ids: list[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(params, metrics, tags) rows of (position in `ids`, key, value); a NaN metric's is None."""
    if not ids:
        return [], [], []
    lm = latest_metrics
    metric_value = case((lm.c.is_nan, None), else_=lm.c.value)
    return (
        _of(conn, params, params.c.value, ids),
        _of(conn, lm, metric_value, ids),
        _of(conn, tags, tags.c.value, ids),
    )


__all__ = ["fetch_all", "read_key_values"]

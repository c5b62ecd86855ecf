"""Params, latest metrics and tags of a page of runs, grouped by key for RunColumns: for each
key, the positions (indexes in the page) of the runs that have it and their values.

The ids are bound as one value and joined as a table with each id's position (json_each on
SQLite, unnest WITH ORDINALITY on PostgreSQL): a 50,000-id page would otherwise cost more to
bind than to read. The database groups by key and hands back one row per key with its
positions and values as arrays (json_group_array / array_agg), so a million params cost no
Python object per row beyond the values themselves. SQLite's JSON writes floats with 15
digits, so its metrics come as rows instead and are grouped here.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, String, Table, bindparam, case, func, select
from sqlalchemy.types import JSON

from notebook_tracker.run_columns import KeyColumns, key_columns
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
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _grouped(
    conn: Connection, table: Table, value: Any, ids: list[str], numeric: bool
) -> KeyColumns:
    each, run_id, position = _positions(conn, ids)
    joined = each.join(table, table.c.run_uuid == run_id)
    if conn.dialect.name == "postgresql":
        stmt = select(table.c.key, func.array_agg(position), func.array_agg(value))
        return key_columns(fetch_all(conn, stmt.select_from(joined).group_by(table.c.key)), numeric)
    if not numeric:
        agg = func.json_group_array
        stmt = select(table.c.key, agg(position), agg(value)).select_from(joined)
        rows = fetch_all(conn, stmt.group_by(table.c.key))
        return key_columns(((k, json.loads(p), json.loads(v)) for k, p, v in rows), numeric)
    found: dict[str, tuple[list[int], list[Any]]] = {}
    for pos, key, val in fetch_all(conn, select(position, table.c.key, value).select_from(joined)):
        entry = found.get(key)
        if entry is None:
            entry = found[key] = ([], [])
        entry[0].append(pos)
        entry[1].append(val)
    return key_columns(((k, p, v) for k, (p, v) in found.items()), numeric)


def read_key_values(conn: Connection, ids: list[str]) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
    """(params, metrics, tags) of these runs, by key; a NaN metric is NaN."""
    if not ids:
        return {}, {}, {}
    lm = latest_metrics
    metric_value = case((lm.c.is_nan, None), else_=lm.c.value)
    return (
        _grouped(conn, params, params.c.value, ids, numeric=False),
        _grouped(conn, lm, metric_value, ids, numeric=True),
        _grouped(conn, tags, tags.c.value, ids, numeric=False),
    )


__all__ = ["fetch_all", "read_key_values"]

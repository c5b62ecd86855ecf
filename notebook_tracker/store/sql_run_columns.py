"""Params, latest metrics and tags of a page of runs, grouped by key for RunColumns: for each
key, the positions (indexes in the page) of the runs that have it and their values.

The ids are bound as one JSON text and joined as a table with each id's index (json_each on
SQLite, json_array_elements_text WITH ORDINALITY on PostgreSQL): a 50,000-id page would
otherwise cost more to bind than to read (psycopg2 quotes a list's items one by one). They
are bound sorted, so the lookups walk the (run_uuid, key, value) indexes of migration 0006 in
order (three times faster than in page order on SQLite at 50,000 ids); numpy maps each sorted
index back to its position in the page.

On PostgreSQL params and tags come grouped by the database, one row per key with its indexes
and values as arrays (array_agg), so a million values cost no Python tuple per row. On SQLite
they come as three JSON arrays (indexes, keys, values) in one row, grouped by key in numpy:
a GROUP BY there sorts every value through a temporary B-tree (~30% of the read). SQLite's
JSON writes floats with 15 digits (and printf with 17 costs more than the rows), so there the
metrics come as flat rows, grouped the same way.

The statements are plain SQL, written once per dialect: building and caching a Core statement
costs about a millisecond each, a good part of a 100-row search. On PostgreSQL the three tables
are read in one UNION ALL statement: each statement costs a round trip and a plan there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from notebook_tracker.run_columns import KeyColumns

_SQLITE_ARRAYS = (
    'SELECT json_group_array(e."key"), json_group_array(t."key"), json_group_array(t."value") '
    'FROM json_each(?) AS e JOIN {table} AS t ON t.run_uuid = e."value"'
)
_SQLITE_METRICS = (
    'SELECT e."key", t."key", CASE WHEN t.is_nan THEN NULL ELSE t."value" END '
    'FROM json_each(?) AS e JOIN latest_metrics AS t ON t.run_uuid = e."value"'
)


def _pg_grouped(join: str) -> str:
    """One statement for the three tables: each costs PostgreSQL a round trip and a plan."""
    return " UNION ALL ".join(
        f'SELECT {kind} AS kind, t."key", array_agg(e.pos - 1), {values} '
        "FROM json_array_elements_text(%(ids)s::json) WITH ORDINALITY AS e(id, pos) "
        f'{join.format(table=table)} GROUP BY t."key"'
        for kind, table, values in (
            (0, "params", 'array_agg(t."value"), NULL::float8[]'),
            (
                1,
                "latest_metrics",
                'NULL::text[], array_agg(CASE WHEN t.is_nan THEN NULL ELSE t."value" END)',
            ),
            (2, "tags", 'array_agg(t."value"), NULL::float8[]'),
        )
    )


# One index probe per id, whatever the table's size: a plain join let the planner hash-join a
# 100-id page against the whole of each table at 10,000 runs, and scan 3M-row tables for a
# 50,000-id page of 1M runs (2-3x slower than the probes, which walk the index in id order).
# OFFSET 0 keeps PostgreSQL from flattening the LATERAL subquery back into that join; the
# plan is the same for any number of ids, so the statement can run prepared (pg_reads.py).
_PG_GROUPED = _pg_grouped(
    "CROSS JOIN LATERAL (SELECT * FROM {table} AS x WHERE x.run_uuid = e.id OFFSET 0) AS t"
)


def fetch_all(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """All rows as the driver's tuples (no type processing: plain columns only)."""
    result = conn.execute(stmt)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _driver_rows(conn: Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    result = conn.exec_driver_sql(sql, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _columns(
    rows: Sequence[tuple[str, Sequence[int], Sequence[Any]]], where: Any, numeric: bool
) -> KeyColumns:
    """KeyColumns from (key, sorted-id indexes, values) rows; `where` maps index -> position."""
    import numpy as np

    out: KeyColumns = {}
    for key, indexes, values in rows:
        if numeric:
            data = np.array(values, dtype=np.float64)  # None (NaN) becomes NaN
        else:
            data = np.empty(len(values), dtype=object)
            data[:] = values
        out[key] = (where[np.asarray(indexes, dtype=np.intp)], data)
    return out


_FACTORIZE_FROM = 5_000


def _by_key(
    keys: Sequence[str], indexes: Sequence[int], values: Sequence[Any], where: Any, numeric: bool
) -> KeyColumns:
    """KeyColumns from one (key, sorted-id index, value) triple per value, grouped with numpy."""
    import numpy as np

    if not len(keys):
        return {}
    if len(keys) < _FACTORIZE_FROM:  # pandas' fixed cost outweighs a dict on small pages
        code_of: dict[str, int] = {}
        codes = np.array([code_of.setdefault(k, len(code_of)) for k in keys], dtype=np.intp)
        names: Sequence[str] = list(code_of)
    else:
        import pandas as pd

        codes, names = pd.factorize(np.array(keys, dtype=object))
    positions = where[np.array(indexes, dtype=np.intp)]
    if numeric:
        data = np.array(values, dtype=np.float64)  # None (NaN) becomes NaN
    else:
        data = np.empty(len(values), dtype=object)
        data[:] = values
    by_key = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=len(names)))
    out: KeyColumns = {}
    start = 0
    for code, key in enumerate(names):
        chosen = by_key[start : ends[code]]
        out[key] = (positions[chosen], data[chosen])
        start = int(ends[code])
    return out


def _flat_metrics(rows: list[tuple[int, str, float | None]], where: Any) -> KeyColumns:
    """KeyColumns of metrics from flat (index, key, value) rows."""
    # One list per column: zip(*rows) over 100,000 rows costs ten times more.
    return _by_key(
        [r[1] for r in rows], [r[0] for r in rows], [r[2] for r in rows], where, numeric=True
    )


def _bound_ids(ordered: list[str]) -> str:
    """The ids as a JSON array; run ids of letters and digits need no escaping, and joining
    them costs a fifth of json.dumps at 50,000 ids."""
    if "".join(ordered).isalnum():
        return '["' + '","'.join(ordered) + '"]'
    return json.dumps(ordered)


def read_key_values(conn: Connection, ids: list[str]) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
    """(params, metrics, tags) of these runs, by key; a NaN metric is NaN."""
    if not ids:
        return {}, {}, {}
    import numpy as np

    # As fixed-width text numpy sorts ids several times faster than as objects.
    where = np.argsort(np.array(ids, dtype=str), kind="stable")
    ordered = [ids[i] for i in where]
    if conn.dialect.name == "postgresql":
        kinds: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        # As one JSON text: psycopg2 quotes a list's strings one by one (~0.1-0.3 s at 50,000).
        bound = {"ids": _bound_ids(ordered)}
        for kind, key, indexes, texts, numbers in _driver_rows(conn, _PG_GROUPED, bound):
            kinds[kind].append((key, indexes, texts if numbers is None else numbers))
        return (
            _columns(kinds[0], where, numeric=False),
            _columns(kinds[1], where, numeric=True),
            _columns(kinds[2], where, numeric=False),
        )
    bound_json = (_bound_ids(ordered),)
    return (
        _sqlite_grouped(conn, "params", bound_json, where),
        _flat_metrics(_driver_rows(conn, _SQLITE_METRICS, bound_json), where),
        _sqlite_grouped(conn, "tags", bound_json, where),
    )


def _sqlite_grouped(conn: Connection, table: str, bound: tuple[str], where: Any) -> KeyColumns:
    ((indexes, keys, values),) = _driver_rows(conn, _SQLITE_ARRAYS.format(table=table), bound)
    return _by_key(json.loads(keys), json.loads(indexes), json.loads(values), where, False)


__all__ = ["fetch_all", "read_key_values"]

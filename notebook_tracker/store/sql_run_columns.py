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
each table comes as one row of aggregated strings (indexes, keys, values), grouped by key in
numpy: a GROUP BY there sorts every value through a temporary B-tree (~30% of the read); the
metrics' values as exact decimal text (sqlite_key_values.py).

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
from notebook_tracker.store.pg_key_values import AT_ONCE_FROM, rows_at_once
from notebook_tracker.store.sqlite_key_values import driver_rows, read_sqlite_key_values


def _pg_tables(join: str) -> list[str]:
    """One SELECT per table, params, latest metrics then tags."""
    return [
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
    ]


# One index probe per id, whatever the table's size: a plain join let the planner hash-join a
# 100-id page against the whole of each table at 10,000 runs, and scan 3M-row tables for a
# 50,000-id page of 1M runs (2-3x slower than the probes, which walk the index in id order).
# OFFSET 0 keeps PostgreSQL from flattening the LATERAL subquery back into that join; the
# plan is the same for any number of ids, so the statement can run prepared (pg_reads.py).
_PG_TABLES = _pg_tables(
    "CROSS JOIN LATERAL (SELECT * FROM {table} AS x WHERE x.run_uuid = e.id OFFSET 0) AS t"
)
# One statement for a small page: each costs PostgreSQL a round trip and a plan; a big page's
# tables are read at once on three connections (pg_key_values.py).
_PG_GROUPED = " UNION ALL ".join(_PG_TABLES)


def fetch_all(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """All rows as the driver's tuples (no type processing: plain columns only)."""
    result = conn.execute(stmt)
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


def _bound_ids(ordered: list[str]) -> str:
    """The ids as a JSON array; run ids of letters and digits need no escaping, and joining
    them costs a fifth of json.dumps at 50,000 ids."""
    joined = "".join(ordered)
    # bytes.isalnum looks up a table; str.isalnum asks Unicode per character (20 ms at 50,000).
    if joined.isascii() and joined.encode("ascii").isalnum():
        return '["' + '","'.join(ordered) + '"]'
    return json.dumps(ordered)


def read_key_values(conn: Connection, ids: list[str]) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
    """(params, metrics, tags) of these runs, by key; a NaN metric is NaN."""
    if not ids:
        return {}, {}, {}
    import numpy as np

    # As fixed-width text numpy sorts ids several times faster than as objects.
    where = np.argsort(np.array(ids, dtype=str), kind="stable")
    ordered = [ids[i] for i in where.tolist()]  # Python ints: a numpy scalar each costs 2x
    if conn.dialect.name == "postgresql":
        kinds: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        # As one JSON text: psycopg2 quotes a list's strings one by one (~0.1-0.3 s at 50,000).
        bound = {"ids": _bound_ids(ordered)}
        rows = (
            rows_at_once(conn, _PG_TABLES, bound)
            if len(ids) >= AT_ONCE_FROM
            else driver_rows(conn, _PG_GROUPED, bound)
        )
        for kind, key, indexes, texts, numbers in rows:
            kinds[kind].append((key, indexes, texts if numbers is None else numbers))
        return (
            _columns(kinds[0], where, numeric=False),
            _columns(kinds[1], where, numeric=True),
            _columns(kinds[2], where, numeric=False),
        )
    return read_sqlite_key_values(conn, _bound_ids(ordered), where)


__all__ = ["AT_ONCE_FROM", "fetch_all", "read_key_values"]

"""PostgreSQL upserts of many rows a statement.

SQLAlchemy 2.1 turns an executemany of a plain INSERT into one statement, but hands an
`ON CONFLICT DO UPDATE` insert without RETURNING to the driver a row at a time, one round trip
to the server each: a 100-metric request's latest_metrics upsert took 44 ms, most of a
PostgreSQL server's time. `upsert` writes up to ROWS rows a statement.

One `ON CONFLICT DO UPDATE` statement may not update a row twice, so the rows must be distinct
on the conflict columns (`order`). They are written sorted on those: two transactions that
upsert the same rows then lock them in the same order, where in the order each request gave
them one waits for the other while holding a row the other wants (a deadlock, which PostgreSQL
ends by failing one of them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

ROWS = 1_000  # parameters: ROWS x columns, far below PostgreSQL's 65,535
_sql: dict[tuple[str, int], str] = {}


def upsert(
    conn: Connection,
    head: str,
    tail: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    order: Sequence[str],
) -> None:
    """`{head} VALUES (...), (...) {tail}` for `rows` (each a mapping of `columns`), in
    `conn`'s transaction: `head` is `INSERT INTO table (columns)`, `tail` its ON CONFLICT."""
    ordered = sorted(rows, key=itemgetter(*order))
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(ordered), ROWS):
        part = ordered[start : start + ROWS]
        sql = _sql.get((head, len(part)))
        if sql is None:
            sql = _sql[(head, len(part))] = f"{head} VALUES {', '.join([row] * len(part))}{tail}"
        conn.exec_driver_sql(sql, tuple(r[c] for r in part for c in columns))


def split(statement: str) -> tuple[str, str]:
    """A one-row `INSERT ... VALUES (...) ON CONFLICT ...` text as its (head, tail)."""
    head, rest = statement.split(" VALUES ", 1)
    return head, rest[rest.index(" ON CONFLICT") :]

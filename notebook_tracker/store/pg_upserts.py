"""PostgreSQL upserts of many rows in one statement.

SQLAlchemy 2.1 turns an executemany of a plain INSERT into one statement, but hands an
`ON CONFLICT DO UPDATE` insert without RETURNING to the driver a row at a time, one round trip
to the server each: a 100-metric request's latest_metrics upsert took 44 ms, most of a
PostgreSQL server's time. `upsert` sends all the rows in one statement, each column as one
array parameter that `unnest` turns back into rows. The driver then quotes one text a column
instead of one parameter a value: a 200-row upsert as a VALUES list of 1,200 parameters cost
0.96 ms of a server worker's CPU in psycopg2 alone, and a server's whole transaction of two
100-metric requests 2.46 ms, against 1.53 ms with arrays.

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

_unnest_sql: dict[tuple[str, str, str], str] = {}


def upsert(
    conn: Connection,
    head: str,
    tail: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    order: Sequence[str],
    constants: str = "",
) -> None:
    """`{head} SELECT *{constants} FROM unnest(...) {tail}` for `rows` (each a mapping of
    `columns`, whose PostgreSQL `types` are text, bigint, float8 or boolean), in `conn`'s
    transaction: `head` is `INSERT INTO table (columns, ...)`, `constants` SQL for the columns
    it names after `columns` (", false"), `tail` its ON CONFLICT clause."""
    ordered = sorted(rows, key=itemgetter(*order))
    sql = _unnest_sql.get((head, tail, constants))
    if sql is None:
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        sql = f"{head} SELECT *{constants} FROM unnest({arrays}){tail}"
        _unnest_sql[head, tail, constants] = sql
    conn.exec_driver_sql(
        sql,
        tuple(
            _ARRAY[kind]([r[c] for r in ordered]) for c, kind in zip(columns, types, strict=True)
        ),
    )


def _text_array(values: list[str]) -> str:
    # Every element quoted, its backslashes and quotes escaped: any text reads back as itself.
    joined = '","'.join(values)
    # Nothing to escape (keys, run ids: the quotes are the separators' own): one join.
    if joined.count('"') == 2 * len(values) - 2 and "\\" not in joined:
        return '{"' + joined + '"}' if values else "{}"
    return (
        "{"
        + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values])
        + "}"
    )


def _float_array(values: list[Any]) -> str:
    # orjson writes a list of floats as the shortest texts that read back as the same floats,
    # in 3 us for 100 where repr took 41. Anything else it writes (null for an infinity, true
    # for a bool) or refuses (a NumPy scalar) goes to repr, float() first: inf and -inf read
    # back, and a NumPy scalar's repr would name its type.
    text = _numbers(values, _FLOAT_TEXT)
    if text is not None:
        return text
    return "{" + ",".join(map(repr, map(float, values))) + "}"


def _int_array(values: list[Any]) -> str:
    text = _numbers(values, _INT_TEXT)  # 2.5 us for 100, against 13
    return text if text is not None else "{" + ",".join(map(str, map(int, values))) + "}"


def _numbers(values: list[Any], allowed: bytes) -> str | None:
    """`values` as an array literal by orjson, or None unless it wrote only `allowed`."""
    import orjson  # PostgreSQL's writers only: a SQLite store never imports it

    try:
        text = orjson.dumps(values)
    except TypeError:  # an int beyond 64 bits, a type orjson does not write
        return None
    if text.translate(None, allowed) != b"[]":
        return None
    return "{" + text[1:-1].decode() + "}"


_INT_TEXT = b"0123456789,-"
_FLOAT_TEXT = _INT_TEXT + b".e+"


def _bool_array(values: list[bool]) -> str:
    return "{" + ",".join(["t" if v else "f" for v in values]) + "}"


_ARRAY = {
    "text": _text_array,
    "integer": _int_array,
    "bigint": _int_array,
    "float8": _float_array,
    "boolean": _bool_array,
}


def array_literal(kind: str, values: list[Any]) -> str:
    """`values` as one PostgreSQL array literal of `kind` (text, integer, bigint, float8 or
    boolean), to pass as one parameter cast to `kind[]`: no NULL elements."""
    return _ARRAY[kind](values)


def split(statement: str) -> tuple[str, str]:
    """A one-row `INSERT ... VALUES (...) ON CONFLICT ...` text as its (head, tail)."""
    head, rest = statement.split(" VALUES ", 1)
    return head, rest[rest.index(" ON CONFLICT") :]

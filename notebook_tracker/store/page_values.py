"""A small page of a run search with its runs' params, latest metrics and tags, read with the
page's own rows.

PostgreSQL: in the page's own statement, one round trip and one plan instead of two.

Each run of the page carries its values in two columns: its packed text (`runs.packed_values`,
packed_values.py) and, only when that text is not valid (NULL, or the run listed in
`stale_run_values`: migration 0008), a correlated subquery of the three tables giving a 2-D
text array of the run's keys (prefixed p/m/t by table) and their values. Both sit in the SELECT
list of the page's ORDER BY ... LIMIT, where PostgreSQL evaluates the subqueries for the rows
the LIMIT returns only (it postpones costly output columns past the sort), and the rows come in
the statement's own order: a run's position is its row's index. The validity test reads the
stale list in the same snapshot as the texts, so a text is used exactly when the big pages'
read (packed_reads.py) would use it. A metric travels as float8 text (the reader's session
writes it shortest-exact: pg_reads.py) or as Python's repr in a packed text; numpy parses both
back to the same double. NaN is NULL in an array and 'nan' in a text.

Measured on the 1,000- and 10,000-run benchmark stores (backend CPU a search, load ~11): the
subquery for every run 2.3 / 4.0 ms, the packed texts 1.1 / 2.0 ms; against the page statement
followed by the values statement keyed by the page's ids, one round trip, one statement's
planning and one execution on the client fewer.

SQLite: the page selects the packed texts (valid when not NULL there: its triggers set a
changed run's text NULL), and only the runs without one are read from the three tables, by id,
as before (sqlite_key_values.py); three statements fewer when the page is packed. A 100-row
search of 1,000 runs spent ~35% of its CPU in those three reads.

Grouping by key is done per distinct key set: runs logged by the same code have the same keys,
so a page is usually one group, transposed by zip in C rather than a Python loop per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Label, literal_column

from notebook_tracker.run_columns import KeyColumns, joined_values
from notebook_tracker.store.packed_values import _ESC, SEP
from notebook_tracker.store.schema import runs
from notebook_tracker.store.sql_run_columns import read_key_values

_SUBQUERY = (
    "(SELECT ARRAY[array_agg(u.k), array_agg(u.v)] FROM ("
    'SELECT \'p\' || x."key" AS k, x."value" AS v FROM params AS x '
    "WHERE x.run_uuid = runs.run_uuid "
    "UNION ALL SELECT 'm' || x.\"key\", "
    'CASE WHEN x.is_nan THEN NULL ELSE x."value"::text END FROM latest_metrics AS x '
    "WHERE x.run_uuid = runs.run_uuid "
    'UNION ALL SELECT \'t\' || x."key", x."value" FROM tags AS x '
    "WHERE x.run_uuid = runs.run_uuid) AS u)"
)
# `runs` is the FROM of every run search (sql_search.py). The array is NULL exactly when the
# text is valid, and never NULL otherwise (an empty array for a run without values).
VALUES_COLUMNS: tuple[Any, Label[Any]] = (
    runs.c.packed_values,
    literal_column(
        "CASE WHEN runs.packed_values IS NULL OR EXISTS (SELECT 1 FROM stale_run_values AS s "
        f"WHERE s.run_uuid = runs.run_uuid) THEN {_SUBQUERY} END"
    ).label("_values"),
)


def _unescaped(text: str) -> str:
    return text.replace(_ESC + "\x01", SEP).replace(_ESC + "\x02", _ESC)


def values_by_key(
    rows: Sequence[Sequence[Any]], at: int
) -> tuple[tuple[KeyColumns, KeyColumns, KeyColumns], bool]:
    """((params, metrics, tags) by key from the VALUES_COLUMNS at `at` of each row, in page
    order; whether a run had no valid packed text)."""
    import numpy as np

    groups: dict[tuple[str, ...], tuple[list[int], list[Sequence[Any]]]] = {}
    unpacked = False
    for position, row in enumerate(rows):
        packed, pair = row[at], row[at + 1]
        if pair is None:  # the packed text is valid
            if not packed:
                continue  # a run without values
            parts = packed.split(SEP)
            if _ESC in packed:
                parts = [_unescaped(part) for part in parts]
            if len(parts) % 2:
                raise ValueError("a packed text has a key without a value")
            keys, values = parts[0::2], parts[1::2]
        else:
            unpacked = True
            if not pair:
                continue
            keys, values = pair
        names = tuple(keys)
        group = groups.get(names)
        if group is None:
            group = groups[names] = ([], [])
        group[0].append(position)
        group[1].append(values)
    parts_of: dict[str, list[tuple[list[int], Sequence[Any]]]] = {}
    for names, (owners, found) in groups.items():
        for name, values_of_key in zip(names, zip(*found, strict=True), strict=True):
            if name[0] == "n":  # a tag whose value is NULL, in a packed text
                name, values_of_key = "t" + name[1:], (None,) * len(values_of_key)
            parts_of.setdefault(name, []).append((owners, values_of_key))
    out: tuple[KeyColumns, KeyColumns, KeyColumns] = ({}, {}, {})
    for name, pieces in parts_of.items():
        positions, column = pieces[0]
        if len(pieces) > 1:  # runs of different key sets: one key's values in several
            positions = [p for piece in pieces for p in piece[0]]
            column = [v for piece in pieces for v in piece[1]]
        if name[0] == "m":
            data = np.array(column, dtype=np.float64)  # None and 'nan' become NaN
        else:
            data = np.empty(len(column), dtype=object)
            data[:] = column
        out["pmt".index(name[0])][name[1:]] = (np.array(positions, dtype=np.intp), data)
    return out, unpacked


def sqlite_page_values(
    conn: Connection, rows: Sequence[Sequence[Any]], at: int
) -> tuple[tuple[KeyColumns, KeyColumns, KeyColumns], bool]:
    """(params, metrics, tags) of a SQLite page whose rows hold their packed text at `at`;
    whether a run had none (read from the tables)."""
    import numpy as np

    texts = [(row[at], None if row[at] is not None else ()) for row in rows]
    found, unpacked = values_by_key(texts, 0)
    if not unpacked:
        return found, False
    missing = [i for i, (text, _) in enumerate(texts) if text is None]
    read = read_key_values(conn, [rows[i][0] for i in missing])
    owners = np.array(missing, dtype=np.intp)
    for mine, theirs in zip(found, read, strict=True):
        for key, (positions, values) in theirs.items():
            positions = owners[positions]
            if key in mine:
                old_positions, old_values = mine[key]
                positions = np.concatenate([old_positions, positions])
                values = joined_values([old_values, values])
            mine[key] = (positions, values)
    return found, True


__all__ = ["VALUES_COLUMNS", "sqlite_page_values", "values_by_key"]

"""A small page of a PostgreSQL run search with its runs' params, latest metrics and tags, in
the page's own statement: one round trip and one plan instead of two.

Each run of the page carries its values as one column, a correlated subquery of the three
tables: a 2-D text array of the run's keys (prefixed p/m/t by table) and their values. The
subquery sits in the SELECT list of the page's ORDER BY ... LIMIT, where PostgreSQL evaluates
it for the rows the LIMIT returns only (it postpones costly output columns past the sort), and
the rows come in the statement's own order: a run's position is its row's index. A metric
travels as float8 text, which the reader's session writes shortest-exact (pg_reads.py), and
numpy parses back to the same double; a NaN travels as NULL (`is_nan` says so).

Measured on the 1,000- and 10,000-run benchmark stores against the page statement followed by
the values statement keyed by the page's ids: the same server CPU (the same index probes), one
round trip, one statement's planning and one execution on the client fewer.

Grouping by key is done per distinct key set: runs logged by the same code have the same keys,
so a page is usually one group, transposed by zip in C rather than a Python loop per value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Label, literal_column

from notebook_tracker.run_columns import KeyColumns

# The correlated subquery: `runs` is the FROM of every run search (sql_search.py).
VALUES_COLUMN: Label[Any] = literal_column(
    "(SELECT ARRAY[array_agg(u.k), array_agg(u.v)] FROM ("
    'SELECT \'p\' || x."key" AS k, x."value" AS v FROM params AS x '
    "WHERE x.run_uuid = runs.run_uuid "
    "UNION ALL SELECT 'm' || x.\"key\", "
    'CASE WHEN x.is_nan THEN NULL ELSE x."value"::text END FROM latest_metrics AS x '
    "WHERE x.run_uuid = runs.run_uuid "
    'UNION ALL SELECT \'t\' || x."key", x."value" FROM tags AS x '
    "WHERE x.run_uuid = runs.run_uuid) AS u)"
).label("_values")


def values_by_key(
    found: Sequence[Sequence[Sequence[Any]] | None],
) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
    """(params, metrics, tags) by key from each run's VALUES_COLUMN, in page order."""
    import numpy as np

    groups: dict[tuple[str, ...], tuple[list[int], list[Sequence[Any]]]] = {}
    for position, pair in enumerate(found):
        if not pair:  # no values at all (NULL or an empty array)
            continue
        keys, values = pair
        names = tuple(keys)
        group = groups.get(names)
        if group is None:
            group = groups[names] = ([], [])
        group[0].append(position)
        group[1].append(values)
    parts: dict[str, list[tuple[list[int], Sequence[Any]]]] = {}
    for names, (owners, rows) in groups.items():
        for name, values_of_key in zip(names, zip(*rows, strict=True), strict=True):
            parts.setdefault(name, []).append((owners, values_of_key))
    out: tuple[KeyColumns, KeyColumns, KeyColumns] = ({}, {}, {})
    for name, pieces in parts.items():
        kind = name[0]
        positions = [p for piece in pieces for p in piece[0]]
        column = [v for piece in pieces for v in piece[1]]
        if kind == "m":
            data = np.array(column, dtype=np.float64)  # None (NaN) becomes NaN
        else:
            data = np.empty(len(column), dtype=object)
            data[:] = column
        out["pmt".index(kind)][name[1:]] = (np.array(positions, dtype=np.intp), data)
    return out


__all__ = ["VALUES_COLUMN", "values_by_key"]

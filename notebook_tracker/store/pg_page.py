"""A page of a PostgreSQL run search together with its runs' params, metrics and tags, in one
statement.

At 1,000 and 10,000 runs a 100-row search spent less than 3 ms executing and most of the rest
on a second round trip (and its plan) for the page's values. Here each page query gets three
more columns: per run, one JSON object per table (key -> value), a correlated subquery probing
the (run_uuid, key) primary key. PostgreSQL evaluates such costly output columns after the sort
and under the LIMIT (EXPLAIN VERBOSE shows the SubPlan above the Sort), so only the page's rows
are probed. Wrapping the page query in an outer SELECT instead cost ~1.4 ms of SQLAlchemy
column proxies per call.

Floats round-trip exactly: a metric comes as its float8 text, which PostgreSQL (12+) writes
shortest-exact whenever extra_float_digits > 0 (the reader sets 3 on connect, pg_reads.py,
whatever the server's default), and float() reads back to the same double, infinities and -0.0
included. A NaN metric comes as null.

Per-run JSON suits pages of a few thousand runs; a bigger page decodes faster as one array per
table grouped by key (sql_run_columns.read_key_values), so it keeps that second statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Text, case, cast, func, select, true

from notebook_tracker.run_columns import KeyColumns, key_columns
from notebook_tracker.store.schema import latest_metrics, params, runs, tags
from notebook_tracker.store.sql_run_columns import fetch_all

# Pages up to this many runs read their values in the page's own statement.
MERGED_MAX_ROWS = 2_000


class PageWithValues:
    """A `fetch` for run_pages.page_rows: runs each page query with its runs' values attached,
    returns the page's own columns, and keeps the values for `key_columns`."""

    def __init__(self) -> None:
        self._values: list[tuple[Any, Any, Any]] = []

    def __call__(self, conn: Connection, query: Any) -> list[tuple[Any, ...]]:
        # As text: JSON would print -0.0 as -0, which Python reads as the integer 0.
        metric = case(
            (latest_metrics.c.is_nan == true(), None),
            else_=cast(latest_metrics.c.value, Text),
        )
        width = len(query.selected_columns)
        stmt = query.add_columns(
            _object(params.c.key, params.c.value, params.c.run_uuid == runs.c.run_uuid),
            _object(latest_metrics.c.key, metric, latest_metrics.c.run_uuid == runs.c.run_uuid),
            _object(tags.c.key, tags.c.value, tags.c.run_uuid == runs.c.run_uuid),
        )
        rows = fetch_all(conn, stmt)
        self._values.extend(row[width:] for row in rows)
        return [row[:width] for row in rows]

    def key_columns(self, count: int) -> tuple[KeyColumns, KeyColumns, KeyColumns]:
        """(params, metrics, tags) of the first `count` runs fetched (the page once trimmed)."""
        grouped: list[dict[str, tuple[list[int], list[Any]]]] = [{}, {}, {}]
        for pos, objects in enumerate(self._values[:count]):
            for found, values in zip(grouped, objects, strict=True):
                if values:
                    for key, value in values.items():
                        entry = found.get(key)
                        if entry is None:
                            entry = found[key] = ([], [])
                        entry[0].append(pos)
                        entry[1].append(value)
        for _, values in grouped[1].values():
            values[:] = [None if value is None else float(value) for value in values]
        p, m, t = (
            key_columns(((k, pv[0], pv[1]) for k, pv in found.items()), numeric=n == 1)
            for n, found in enumerate(grouped)
        )
        return p, m, t


def _object(key: Any, value: Any, where: Any) -> Any:
    return select(func.json_object_agg(key, value)).where(where).scalar_subquery()


__all__ = ["MERGED_MAX_ROWS", "PageWithValues"]

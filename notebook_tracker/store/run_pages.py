"""One page of a run search, found by key (keyset paging) rather than by OFFSET.

A page token carries the order keys of the last run of the page before, so the next page is
"the runs after that one": its cost does not grow with how deep into the results it is, and
streaming a million runs is linear. The token stays opaque and bound to its search (paging.py).

When the first key is a nullable column (start_time by default), a page reads the runs having
a value first, in an order an index gives, and only then those without (NULLs last): a single
ORDER BY ... NULLS LAST would keep PostgreSQL from using the index and make SQLite sort.
The page that crosses from one part to the other is the one page taking two queries.
An order that starts with a metric is split the same way: the runs with a number for it
first, ordered by the metric's own column (its index), then NaN and missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, or_, select, true, union_all

from notebook_tracker.gc_pause import gc_paused
from notebook_tracker.store.paging import invalid_token, keyset_fields, keyset_token
from notebook_tracker.store.pg_reads import kept_rows
from notebook_tracker.store.sql_dialect import text_order
from notebook_tracker.store.sql_run_columns import fetch_all
from notebook_tracker.store.sql_search import OrderKey, RunSearch

_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "text": (str,),
    "float": (int, float),
    "rank": (int,),
    "id": (str,),
}


def _equal(key: OrderKey, value: Any) -> ColumnElement[bool]:
    return key.expr.is_(None) if value is None else key.expr == value


def _strictly_after(key: OrderKey, value: Any) -> ColumnElement[bool]:
    if value is None:  # NULLs come last: nothing is after one but other NULLs, which tie
        return false()
    beyond = key.expr > value if key.ascending else key.expr < value
    return or_(beyond, key.expr.is_(None)) if key.nullable else beyond


def after(keys: Sequence[OrderKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """True for the runs that come after the run whose order keys are `values`."""
    clause: ColumnElement[bool] = false()
    for key, value in reversed(list(zip(keys, values, strict=True))):
        clause = or_(_strictly_after(key, value), and_(_equal(key, value), clause))
    return clause


def _values(token: str | None, bound: str, keys: Sequence[OrderKey]) -> list[Any] | None:
    if not token:
        return None
    values = keyset_fields(token, bound)
    if len(values) != len(keys):
        raise invalid_token(token, "it does not fit this search's order")
    for key, value in zip(keys, values, strict=True):
        ok = isinstance(value, _KINDS[key.kind]) and not isinstance(value, bool)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            ok = False  # beyond any BIGINT: the database would refuse the comparison
        if not ok and not (value is None and key.nullable):
            raise invalid_token(token, "it holds a value this search's order cannot take")
    return values


def _query(
    search: RunSearch, columns: Sequence[Any], extra: Sequence[Any], order: Sequence[Any]
) -> Any:
    stmt = select(*columns).select_from(search.from_).where(*search.where, *extra)
    return stmt.order_by(*order)


# A first page's statements, kept per search (run_search keeps those) and selected columns.
# SQLAlchemy finds its compiled SQL by a key it makes by walking the whole statement and
# remembers that key on the statement object only: built afresh, a 100-row search paid the
# walk each time (~1 ms CPU of its ~6). An entry holds the search and columns its key names
# by id, so no other object can take one of those ids while it is kept.
_FIRST_PAGES: dict[tuple[Any, ...], tuple[Any, Any]] = {}
_FIRST_PAGES_MAX = 256

Memo = tuple[Any, ...] | None


def _fetch(
    conn: Connection, memo: Memo, part: Any, build: Callable[[], Any]
) -> list[tuple[Any, ...]]:
    """The rows of the statement `build` makes, kept for next time when `memo` (the search
    and the columns) is given: for each database kind, as a statement may differ by it (a
    metric's settled index orders a copy of the value on PostgreSQL only)."""
    if memo is None:
        return fetch_all(conn, build())
    key = (*map(id, memo), part, conn.dialect.name)
    found = _FIRST_PAGES.get(key)
    if found is None:
        if len(_FIRST_PAGES) >= _FIRST_PAGES_MAX:
            _FIRST_PAGES.clear()
        found = _FIRST_PAGES[key] = (memo, build())
    if conn.dialect.name == "postgresql":  # prepared with its values from its second run
        return kept_rows(conn, found[1])
    return fetch_all(conn, found[1])


def _key_slots(columns: Sequence[Any], keys: Sequence[OrderKey]) -> tuple[list[Any], list[int]]:
    """The order keys to select after `columns`, and where each key's value sits in a row.

    A key that reads one of `columns` (start_time and run_uuid, the default order) is not
    selected twice: Python's sqlite3 makes an object per column of each row, and two more
    columns cost ~30 ms of a 50,000-run page.
    """
    extra: list[Any] = []
    slots: list[int] = []
    for i, key in enumerate(keys):
        expr = key.expr
        if isinstance(expr, text_order):  # compared by code point, same value
            (expr,) = expr.clauses
        at = next((j for j, column in enumerate(columns) if column is expr), None)
        if at is None:
            at = len(columns) + len(extra)
            extra.append(key.expr.label(f"_key{i}"))
        slots.append(at)
    return extra, slots


# (search, columns) -> their _key_slots, kept with the objects their ids name (as _FIRST_PAGES).
_SLOTS: dict[tuple[int, ...], tuple[Any, Sequence[Any], list[Any], list[int]]] = {}


def _kept_key_slots(search: RunSearch, columns: Sequence[Any]) -> tuple[list[Any], list[int]]:
    key = (id(search), *map(id, columns))
    found = _SLOTS.get(key)
    if found is None:
        if len(_SLOTS) >= _FIRST_PAGES_MAX:
            _SLOTS.clear()
        found = _SLOTS[key] = (search, tuple(columns), *_key_slots(columns, search.keys))
    return found[2], found[3]


def _split_rows(
    conn: Connection,
    search: RunSearch,
    columns: Sequence[Any],
    values: list[Any] | None,
    limit: int,
    memo: Memo = None,
) -> list[tuple[Any, ...]]:
    first, rest = search.keys[0], search.keys[1:]
    rows: list[tuple[Any, ...]] = []
    # The clauses are built only when a statement is (a first page's is kept: _fetch).
    if values is None or values[0] is not None:

        def build_values() -> Any:
            where: list[ColumnElement[bool]] = [first.expr.is_not(None)]
            if values is not None:
                v = values[0]
                where += [first.expr <= v if not first.ascending else first.expr >= v]
                where.append(after(search.keys, values))
            # With the NULLs apart, the first key's plain order is the index's on both dialects.
            order = [first.clause(nulls_last=False), *(k.clause() for k in rest)]
            return _query(search, columns, where, order).limit(limit)

        rows = _fetch(conn, memo, ("values", limit), build_values)
        if len(rows) >= limit:
            return rows
        values = None
    rest_limit = limit - len(rows)

    def build_nulls() -> Any:
        where: list[ColumnElement[bool]] = [first.expr.is_(None)]
        if values is not None:
            where.append(after(rest, values[1:]))
        rest_order = [k.clause() for k in rest]
        return _query(search, columns, where, rest_order).limit(rest_limit)

    return rows + _fetch(conn, memo, ("nulls", rest_limit), build_nulls)


def _on_column(key: OrderKey, column: Any) -> OrderKey:
    """`key` ordering a column of a subquery that selected it."""
    expr = text_order(column) if isinstance(key.expr, text_order) else column
    return OrderKey(expr, key.ascending, key.kind)


def _metric_split_rows(
    conn: Connection,
    search: RunSearch,
    columns: Sequence[Any],
    slots: Sequence[int],
    values: list[Any] | None,
    limit: int,
    memo: Memo = None,
) -> list[tuple[Any, ...]]:
    """A page of a search ordered by a metric first: the runs with a number for it, in the
    order of the metric's (key, value) index, then the others (NaN, then missing).

    One query ordered by the rank and value CASEs made PostgreSQL read and sort every match
    (1.1 s for 33,000 matches of 100,000 runs); ordered by the metric's column it walks the
    index and stops at the page's end (about 400 index entries for the same page). SQLite
    likewise: a filtered 100-row page of 1,000 runs went from 3.6 to 0.3 ms of CPU.

    The index holds settled rows only (migration 0010): the page is the settled rows' page,
    read through it, merged with the unsettled rows' page (the runs being logged to, read
    through their own small index and sorted), in one statement. PostgreSQL's index orders
    the settled copy of the value (migration 0011), the same number for a settled row.
    """
    assert search.metric_first is not None
    number, column, settled, settled_copy = search.metric_first
    value = search.keys[1]
    rows: list[tuple[Any, ...]] = []
    if values is None or values[0] == 0:
        indexed = settled_copy if conn.dialect.name == "postgresql" else column

        def numbers(ordered: Any, flag: Any) -> Any:
            where: list[ColumnElement[bool]] = [number, settled == flag]
            if values is not None:
                where += [ordered >= values[1] if value.ascending else ordered <= values[1]]
                where.append(after(search.keys, values))
            first = ordered.asc() if value.ascending else ordered.desc()
            order = [first, *(k.clause() for k in search.keys[2:])]
            return _query(search, columns, where, order).limit(limit)

        def build_numbers() -> Any:
            parts = [numbers(indexed, true()), numbers(column, false())]
            merged = union_all(*(select(*part.subquery().c) for part in parts)).subquery()
            out = list(merged.c)
            assert len(out) == len(columns), "a page's columns need distinct names"
            keys = [_on_column(key, out[slots[i]]) for i, key in enumerate(search.keys)]
            return select(*out).order_by(*(k.clause() for k in keys[1:])).limit(limit)

        rows = _fetch(conn, memo, ("numbers", limit), build_numbers)
        if len(rows) >= limit:
            return rows
        values = None
    rest_limit = limit - len(rows)

    def build_rest() -> Any:
        where = [~number]
        if values is not None:
            where.append(after(search.keys, values))
        rest_order = [k.clause() for k in search.keys]
        return _query(search, columns, where, rest_order).limit(rest_limit)

    return rows + _fetch(conn, memo, ("rest", rest_limit), build_rest)


def page_rows(
    conn: Connection,
    search: RunSearch,
    columns: Sequence[Any],
    max_results: int,
    page_token: str | None,
    bound: str,
) -> tuple[list[tuple[Any, ...]], str | None]:
    """(rows of `columns` for one page, next page token); a row may end with order keys that
    are not among `columns`.

    Raises InvalidParameter for a token that was not made by this search.
    """
    values = _values(page_token, bound, search.keys)
    extra, slots = _kept_key_slots(search, columns)
    # Later pages bind the last page's keys into the statement: only first pages are kept.
    memo = None if values is not None else (search, *columns)
    with gc_paused(max_results):  # a 50,000-row page is 50,000 tuples (gc_pause.py)
        rows = _rows(conn, search, [*columns, *extra], slots, values, max_results + 1, memo)
    if len(rows) <= max_results:
        return rows, None
    rows = rows[:max_results]
    last = rows[-1]
    return rows, keyset_token([last[at] for at in slots], bound)


def _rows(
    conn: Connection,
    search: RunSearch,
    columns: Sequence[Any],
    slots: Sequence[int],
    values: list[Any] | None,
    limit: int,
    memo: Memo = None,
) -> list[tuple[Any, ...]]:
    if search.splits_on_null:
        return _split_rows(conn, search, columns, values, limit, memo)
    if search.metric_first is not None:
        return _metric_split_rows(conn, search, columns, slots, values, limit, memo)

    def build() -> Any:
        where = [] if values is None else [after(search.keys, values)]
        order = [k.clause() for k in search.keys]
        return _query(search, columns, where, order).limit(limit)

    return _fetch(conn, memo, ("all", limit), build)


__all__ = ["after", "page_rows"]

"""Pages of run search results as plain rows, for listing many runs at once (the sidebar).

The same search, order and page tokens as `SqlStore.search_runs` (a token from one is valid
for the other), but built for large pages: no Run entities, ids bound as one JSON array on
SQLite (a 5,000-value IN list costs more to bind than to run), the runs' attributes, params and
latest metrics read in chunks, and tags only when asked for (a run's tags can be long: package
lists, file lists). Between chunks `cancelled()` is asked, so a page nobody waits for any more
(the sidebar moved on to another filter) stops early instead of holding a server thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, any_, bindparam, func, select
from sqlalchemy.types import ARRAY, JSON

from notebook_tracker.entities import ViewType
from notebook_tracker.store.paging import check_max_results, query_key
from notebook_tracker.store.schema import latest_metrics, params, runs, tags

PARENT_TAG = "mlflow.parentRunId"
CHUNK = 500


class SearchCancelled(Exception):
    """The caller stopped waiting for the page (see `cancelled`)."""


def _in_ids(conn: Connection, column: ColumnElement[Any], ids: list[str]) -> ColumnElement[bool]:
    if conn.dialect.name == "sqlite":
        each = func.json_each(bindparam("ids_json", ids, type_=JSON)).table_valued("value")
        return column.in_(select(each.c.value))
    # One array parameter: the statement's text stays the same whatever the chunk's length,
    # so PostgreSQL runs it prepared (pg_reads.py).
    return column == any_(bindparam("ids_array", ids, type_=ARRAY(Text)))


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _rows_for(conn: Connection, ids: list[str], with_tags: bool) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    columns = (
        runs.c.run_uuid,
        runs.c.name,
        runs.c.experiment_id,
        runs.c.status,
        runs.c.start_time,
        runs.c.end_time,
        runs.c.user_id,
        runs.c.artifact_uri,
        runs.c.lifecycle_stage,
        runs.c.parent_run_id,
    )
    for run_id, name, exp_id, status, start, end, user, uri, stage, parent in conn.execute(
        select(*columns).where(_in_ids(conn, runs.c.run_uuid, ids))
    ):
        out[run_id] = {
            "run_id": run_id,
            "run_name": name or "",
            "experiment_id": str(exp_id),
            "status": status,
            "start_time": start,
            "end_time": end,
            "user_id": user or "",
            "artifact_uri": uri,
            "lifecycle_stage": stage,
            "parent_run_id": parent,
            "params": {},
            "metrics": {},
            "tags": {},
        }
    for run_id, key, value in conn.execute(
        select(params.c.run_uuid, params.c.key, params.c.value).where(
            _in_ids(conn, params.c.run_uuid, ids)
        )
    ):
        out[run_id]["params"][key] = value
    nan = math.nan
    lm = latest_metrics
    for run_id, key, value, is_nan in conn.execute(
        select(lm.c.run_uuid, lm.c.key, lm.c.value, lm.c.is_nan).where(
            _in_ids(conn, lm.c.run_uuid, ids)
        )
    ):
        out[run_id]["metrics"][key] = nan if is_nan else value
    tag_rows = select(tags.c.run_uuid, tags.c.key, tags.c.value).where(
        _in_ids(conn, tags.c.run_uuid, ids)
    )
    if not with_tags:
        # The parent is the tag MLflow clients set; the column is only a fallback.
        tag_rows = tag_rows.where(tags.c.key == PARENT_TAG)
    for run_id, key, value in conn.execute(tag_rows):
        row = out[run_id]
        if key == PARENT_TAG:
            row["parent_run_id"] = value
        if with_tags:
            row["tags"][key] = value
    return out


def search_run_rows(
    store: Any,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    run_view_type: str,
    max_results: int,
    order_by: Sequence[str] | None,
    page_token: str | None,
    *,
    with_tags: bool = True,
    cancelled: Callable[[], bool] = lambda: False,
    number_aware: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """(runs as JSON-ready dicts, next page token) of a `SqlStore`'s run search.

    `number_aware`: params holding numbers order by value ("9" before "10"), as the sidebar
    sorts a loaded list; otherwise as text, as MLflow does.

    Raises SearchCancelled when `cancelled()` turns true between chunks.
    """
    from notebook_tracker.store.run_pages import page_rows
    from notebook_tracker.store.sql_search import run_search

    store.maybe_reap()
    check_max_results(max_results)
    parts: list[Any] = ["runs", run_view_type, filter_string or "", list(order_by or [])]
    if number_aware:  # a token of the text order does not fit this one
        parts.append("numbers")
    bound = query_key(*parts)
    search = run_search(
        [str(e) for e in experiment_ids],
        ViewType.stages(run_view_type),
        filter_string,
        order_by,
        number_aware,
    )
    found: list[dict[str, Any]] = []
    with store.reader.connect() as conn:
        store.fold_latest(conn)
        rows, token = page_rows(conn, search, [runs.c.run_uuid], max_results, page_token, bound)
        for chunk in _chunks([row[0] for row in rows]):
            if cancelled():
                raise SearchCancelled()
            by_id = _rows_for(conn, chunk, with_tags)
            found.extend(by_id[i] for i in chunk if i in by_id)
    return found, token

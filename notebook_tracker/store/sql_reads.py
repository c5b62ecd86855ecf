"""A run's metric history and the run search: the read side of `SqlStore` (a mixin).

Both read through `reader` only; the write path and its hot loop stay in `sql.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select

from notebook_tracker.entities import MetricHistory, PagedList, Run, ViewType
from notebook_tracker.run_columns import RunColumns
from notebook_tracker.store import sql_run_columns
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_DEFAULT
from notebook_tracker.store.latest_folding import fold_pending
from notebook_tracker.store.metric_chunks import unpack_history
from notebook_tracker.store.metric_compaction import READ_COMPACT_CHUNKS
from notebook_tracker.store.metric_staging import STAGED_KEY, history_parts
from notebook_tracker.store.packed_reads import packed_page, uses_packed
from notebook_tracker.store.page_values import (
    VALUES_COLUMNS,
    sqlite_page_values,
    values_by_key,
)
from notebook_tracker.store.paging import check_max_results, decode_token, encode_token, query_key
from notebook_tracker.store.run_pages import page_rows
from notebook_tracker.store.schema import metric_chunks as metric_chunks_t
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.sql_metric_write import compact_after_read
from notebook_tracker.store.sql_run_columns import read_key_values
from notebook_tracker.store.sql_search import RunSearch, run_search

# The `runs` columns behind RunColumns.info, in its order.
_INFO_SQL_COLUMNS = (
    "run_uuid",
    "experiment_id",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
)


class RunReadsMixin:
    reader: Any
    writer: Any

    if TYPE_CHECKING:  # provided by SqlStore, which this is mixed into

        def _require_run(self, conn: Connection, run_id: str, for_logging: bool = False) -> Any: ...

        def _load_runs(self, conn: Connection, ids: Sequence[str]) -> list[Run]: ...

        def maybe_reap(self) -> None: ...

        def maybe_pack(self) -> None: ...

        def maybe_settle(self) -> None: ...

    def fold_latest(self, conn: Connection) -> None:
        """Before reading latest values on `conn`: fold the staged points a server wrote into
        latest_metrics (PostgreSQL; latest_folding.py)."""
        fold_pending(conn, self.writer)

    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> MetricHistory:
        with self.reader.connect() as conn:
            self._require_run(conn, run_id)
            # The key's chunks and its run's staged rows, in write order (metric_staging.py).
            found = conn.execute(
                select(
                    metric_chunks_t.c.key,
                    metric_chunks_t.c.steps,
                    metric_chunks_t.c.timestamps,
                    metric_chunks_t.c["values"],
                    metric_chunks_t.c.staged_keys,
                    metric_chunks_t.c.key_index,
                )
                .where(
                    and_(
                        metric_chunks_t.c.run_uuid == run_id,
                        metric_chunks_t.c.key.in_((key, STAGED_KEY)),
                    )
                )
                .order_by(metric_chunks_t.c.chunk_id)
            ).all()
        chunks = history_parts(key, found)
        history = unpack_history(key, chunks)
        if len(chunks) > READ_COMPACT_CHUNKS:  # written before compaction, or by many processes
            compact_after_read(self.writer, run_id, key, [len(c[0]) // 8 for c in chunks])
        if max_results is None and not page_token:
            return history
        bound = query_key("metric-history", run_id, key)
        offset = decode_token(page_token, bound)
        end = len(history) if max_results is None else offset + max_results
        page: MetricHistory = history[offset:end]
        page.token = encode_token(end, bound) if end < len(history) else None
        return page

    def _run_search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        run_view_type: str,
        max_results: int,
        order_by: Sequence[str] | None,
    ) -> tuple[RunSearch, str]:
        """The search and the fingerprint its page tokens are bound to."""
        self.maybe_reap()
        check_max_results(max_results)
        search = run_search(
            [str(e) for e in experiment_ids],
            ViewType.stages(run_view_type),
            filter_string,
            order_by,
        )
        if search.metric_first is not None:
            self.maybe_settle()  # runs left out of the metric's index (metric_settling.py)
        # Not the experiment ids: "all experiments" may gain one between two pages.
        return search, query_key("runs", run_view_type, filter_string or "", list(order_by or []))

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        search, bound = self._run_search(
            experiment_ids, filter_string, run_view_type, max_results, order_by
        )
        with self.reader.connect() as conn:
            self.fold_latest(conn)
            rows, token = page_rows(
                conn, search, [runs_t.c.run_uuid], max_results, page_token, bound
            )
            found = self._load_runs(conn, [row[0] for row in rows])
        return PagedList(found, token)

    def search_run_columns(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[RunColumns, str | None]:
        """`search_runs` as columns, read without a Run per row (see run_columns.py)."""
        search, bound = self._run_search(
            experiment_ids, filter_string, run_view_type, max_results, order_by
        )
        info: list[Any] = [runs_t.c[name] for name in _INFO_SQL_COLUMNS]
        width = len(info)
        with self.reader.connect() as conn:
            self.fold_latest(conn)
            if conn.dialect.name == "postgresql" and max_results < sql_run_columns.AT_ONCE_FROM:
                # A small page's values come with it, in its statement (page_values.py).
                info += VALUES_COLUMNS
                rows, token = page_rows(conn, search, info, max_results, page_token, bound)
                values, stale = values_by_key(rows, width)
                if stale:
                    self.maybe_pack()
                return RunColumns([tuple(row[:width]) for row in rows], *values), token
            if conn.dialect.name == "sqlite" and max_results < sql_run_columns.AT_ONCE_FROM:
                # A small page's packed texts come with it (page_values.py).
                info.append(runs_t.c.packed_values)
                rows, token = page_rows(conn, search, info, max_results, page_token, bound)
                values, stale = sqlite_page_values(conn, rows, width)
                if stale:
                    self.maybe_pack()
                return RunColumns([tuple(row[:width]) for row in rows], *values), token
            if uses_packed(max_results):
                page, token, unpacked = packed_page(
                    conn, search, info, max_results, page_token, bound
                )
                if unpacked:
                    self.maybe_pack()
                return page, token
            rows, token = page_rows(conn, search, info, max_results, page_token, bound)
            ids = [row[0] for row in rows]
            param_rows, metric_rows, tag_rows = read_key_values(conn, ids)
        # The default order's keys are info columns: the driver's tuples are the info as they are.
        if rows and len(rows[0]) != width:
            rows = [tuple(row[:width]) for row in rows]
        found = RunColumns(rows, param_rows, metric_rows, tag_rows)
        return found, token

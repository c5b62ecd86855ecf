"""Many requests' points in one transaction: the group write of a server's ingest (a mixin of
`SqlStore`).

A server worker collects the metric points of concurrent requests (JSON log-batch rows, compact
frames' columns) and commits them together: one transaction, one run-state check per run; a
run's rows of many keys as one staged row (metric_staging.py), else one chunk row per (run, key),
and one per column. Columns arrive in the chunk's own layout (little-endian int64 steps and
timestamps, float64 values), so they are stored without unpacking a point.

A server's synchronous `log_param`/`set_tag` on SQLite goes to the driver directly as well
(`log_params_tags`): SQLAlchemy's per-statement work cost several times the statements. Any
refusal (a deleted or unknown run, a param changing value) rolls back and is left to the
store's `log_batch`, whose error says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from notebook_tracker.store import db_errors, rules, sqlite_busy, sqlite_rows
from notebook_tracker.store import sql_statements as q
from notebook_tracker.store.metric_chunks import latest_points
from notebook_tracker.store.metric_compaction import DueKeys
from notebook_tracker.store.metric_staging import INSERT_STAGED, split_rows
from notebook_tracker.store.sql_metric_write import (
    MetricWriter,
    compact_due,
    sa_execute,
    upsert_latest_points,
)
from notebook_tracker.wire.batch import Column

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Connection

    from notebook_tracker.entities import Metric, Param, RunTag
    from notebook_tracker.entities.logged_models import ModelMetric
    from notebook_tracker.store.sql_metric_write import SqliteMetricWriter

Row = tuple[str, str, float, int, int]


def _last_row(run_id: str, column: Column) -> Row:
    """The column's last point in (step, timestamp) order, as a metric row."""
    import numpy as np

    steps = np.frombuffer(column.steps, dtype="<i8")
    timestamps = np.frombuffer(column.timestamps, dtype="<i8")
    top = np.flatnonzero(steps == steps.max())
    ts = timestamps[top]
    at = int(top[np.flatnonzero(ts == ts.max())[-1]])
    value = float(np.frombuffer(column.values, dtype="<f8")[at])
    return run_id, column.key, value, int(timestamps[at]), int(steps[at])


def _chunk(run_id: str, column: Column) -> dict[str, Any]:
    import numpy as np

    steps = np.frombuffer(column.steps, dtype="<i8")
    return {
        "run_uuid": run_id,
        "key": column.key,
        "count": column.count,
        "min_step": int(steps.min()),
        "max_step": int(steps.max()),
        "steps": column.steps,
        "timestamps": column.timestamps,
        "values": column.values,
    }


def _params_tags(
    raw: sqlite3.Connection, run_id: str, params: dict[str, str], tags: dict[str, str]
) -> bool:
    """One transaction; False (rolled back) when the run is not active or a param would change."""
    sqlite_busy.retrying(lambda: raw.execute("BEGIN IMMEDIATE"))
    try:
        ok = sqlite_rows.run_is_active(raw, run_id)
        ok = ok and (not params or sqlite_rows.insert_params(raw, run_id, params))
        if ok and tags:
            sqlite_rows.upsert_tags(raw, run_id, tags)
        raw.execute("COMMIT" if ok else "ROLLBACK")
        return ok
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise


class GroupWrite:
    """Points of many requests to write in one transaction (`IngestMixin.metric_groups_write`):
    rows' parameters are made as they are added, and the call writes them straight to the
    driver (`fast`: SQLite's, psycopg2's), else, or when that declines, by
    `slowly(rows, columns)`."""

    def __init__(
        self,
        fast: MetricWriter | None,
        slowly: Callable[[Sequence[Row], Sequence[tuple[str, Column]]], None],
    ) -> None:
        self.fast = fast
        self.slowly = slowly
        self.rows: list[Row] = []
        self.columns: list[tuple[str, Column]] = []
        self.prepared: Any = None
        self._written_fast = False

    def add(self, rows: Sequence[Row], columns: Sequence[tuple[str, Column]] = ()) -> None:
        """More points for the same transaction (a step or timestamp past 64 bits raises the
        store's error, and leaves this write as it was)."""
        if rows and self.fast is not None:
            mine = self.fast.prepare(rows, stage=True)
            self.prepared = mine if self.prepared is None else self.fast.merge(self.prepared, mine)
        self.rows.extend(rows)
        self.columns.extend(columns)

    def __call__(self) -> None:
        rows = self.rows
        if rows and self.fast is not None and self.prepared is not None:
            self._written_fast = self.fast.write_prepared(self.prepared)
            rows = [] if self._written_fast else rows
        if rows or self.columns:
            self.slowly(rows, self.columns)

    def compact(self) -> None:
        """The merges the write made due, where they follow its commit (MetricWriter.compact):
        a server calls this once it has answered the write's requests. The slow path merged
        in its own transaction."""
        if self._written_fast:
            assert self.fast is not None
            self._written_fast = False
            self.fast.compact(self.prepared)


class IngestMixin:
    writer: Any
    compaction_due: DueKeys
    _sqlite_metrics: SqliteMetricWriter | None
    _fast_metrics: MetricWriter | None

    if TYPE_CHECKING:  # provided by SqlStore, which this is mixed into

        def _require_run(self, conn: Connection, run_id: str, for_logging: bool = False) -> Any: ...
        def log_metric_rows(self, rows: Iterable[Row]) -> None: ...
        def _insert_metrics(self, conn: Connection, rows: Sequence[Row]) -> None: ...
        def log_batch(
            self,
            run_id: str,
            metrics: Sequence[Metric] = (),
            params: Sequence[Param] = (),
            tags: Sequence[RunTag] = (),
            model_metrics: Sequence[ModelMetric] = (),
        ) -> None: ...

    def log_params_tags(
        self, run_id: str, params: Sequence[Param] = (), tags: Sequence[RunTag] = ()
    ) -> None:
        """`log_batch` of params and tags only, straight to the driver on SQLite."""
        params, tags = rules.batch((), params, tags)
        wanted = {p.key: p.value for p in params}
        fast = self._sqlite_metrics
        if (
            fast is not None
            and len(wanted) == len(params)  # a key given twice: log_batch checks the values
            and fast.transaction(
                lambda raw: _params_tags(raw, run_id, wanted, {t.key: t.value for t in tags})
            )
        ):
            return
        self.log_batch(run_id, params=params, tags=tags)  # writes it, or says what is wrong

    def log_metric_groups(
        self, rows: Sequence[Row] = (), columns: Sequence[tuple[str, Column]] = ()
    ) -> None:
        """Store `rows` (one transaction, the store's own metric path) and `(run_id, column)`
        pairs of any runs (one more); every run must exist and be active, else nothing of
        that transaction is written and the run's error is raised. Keys are stored as given:
        the server's readers validated them (runs.py's JSON reader, `wire.batch.decode`)."""
        write = self.metric_groups_write(rows, columns)
        write()
        write.compact()

    def metric_groups_write(
        self, rows: Sequence[Row] = (), columns: Sequence[tuple[str, Column]] = ()
    ) -> GroupWrite:
        """`log_metric_groups(rows, columns)` as a call that writes, its statements' parameters
        made now: a server worker makes them before its turn at the database, which then lasts
        only as long as the statements and the commit."""
        write = GroupWrite(self._fast_metrics, self._log_slowly)
        write.add(rows, columns)
        return write

    def _log_slowly(self, rows: Sequence[Row], columns: Sequence[tuple[str, Column]]) -> None:
        if rows:
            self._log_staged_slowly(rows)
        if columns:
            self._log_columns(columns)

    def _log_columns(self, columns: Sequence[tuple[str, Column]]) -> None:
        with self.writer.begin() as conn:
            for run_id in sorted({run_id for run_id, _ in columns}):
                self._require_run(conn, run_id, for_logging=True)
            self._insert_columns(conn, columns)

    def _log_staged_slowly(self, rows: Sequence[Row]) -> None:
        """`rows` in one transaction, each run's points of many keys as one staged row, through
        SQLAlchemy: not SQLite, or the fast write declined (a run is missing or deleted, and
        the check here says which)."""
        try:
            staged, staged_points, direct = split_rows(rows)
        except OverflowError as error:  # a step or timestamp beyond 64 bits
            raise (db_errors.for_exception(None, error, self.writer.url) or error) from None
        with self.writer.begin() as conn:
            for run_id in sorted({r[0] for r in rows}):
                self._require_run(conn, run_id, for_logging=True)
            if direct:
                self._insert_metrics(conn, direct)
            if staged:
                sa_execute(conn)(INSERT_STAGED, staged)  # many runs' rows: one round trip
                upsert_latest_points(conn, latest_points(staged_points))
                compact_due(conn, self.compaction_due, (), [s["run_uuid"] for s in staged])

    def _insert_columns(self, conn: Connection, columns: Sequence[tuple[str, Column]]) -> None:
        conn.execute(q.INSERT_CHUNKS, [_chunk(run_id, c) for run_id, c in columns])
        # Frames flushed often make small chunks: merged as the store's own writes are.
        compact_due(conn, self.compaction_due, [(run_id, c.key) for run_id, c in columns])
        last = [_last_row(run_id, c) for run_id, c in columns]
        upsert_latest_points(conn, latest_points(last))

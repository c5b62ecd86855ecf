"""Writing metric points: the SQLite fast path, and compaction wired to SQLAlchemy connections.

A synchronous `log_metric` commits one point per call, so the fixed cost of a write is the
cost of a point. On SQLite that write skips SQLAlchemy's per-statement work (compiling,
result objects: most of the time when the statement itself takes microseconds) and talks to
the driver directly with fixed SQL that sqlite3 keeps prepared. The run-state check is folded
into the insert (`WHERE EXISTS` an active run), so it costs no statement and needs no cache
that another process's `delete_run` could make stale: a row count short of the chunks means
some run is missing or deleted, nothing is written, and the caller's slow path says which. A
batch (a server's group of requests) checks each of its runs once, in the same transaction,
may hold staged rows (metric_staging.py), and upserts `latest_metrics` many rows a statement.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from notebook_tracker.store import commit_notice, db_errors, pg_upserts, sqlite_busy, sqlite_rows
from notebook_tracker.store import sql_statements as q
from notebook_tracker.store.metric_chunks import latest_columns, latest_points, pack_rows
from notebook_tracker.store.metric_compaction import (
    READ_COMPACT_CHUNKS,
    DueKeys,
    Execute,
    compact_key,
    full_groups,
)
from notebook_tracker.store.metric_staging import INSERT_STAGED, STAGED_RUNS, split_rows, unstage

_log = logging.getLogger(__name__)

Row = tuple[str, str, float, int, int]
# (chunk rows, latest values of each prepared batch, staged rows): the statements' parameters
PreparedPoints = tuple[list[dict[str, Any]], list[list[Any]], list[dict[str, Any]]]


def merge_prepared(first: PreparedPoints, second: PreparedPoints) -> PreparedPoints:
    """Both in one `write_prepared`: rows are added, and each batch's latest values upserted
    by a statement of its own (a statement's rows must be distinct (run, key)s)."""
    return first[0] + second[0], first[1] + second[1], first[2] + second[2]


_inherited: list[Any] = []
_forks = 0  # forks this process descends from: a writer's connection belongs to one value


def _after_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

# Shared with the first-write path (sqlite_first_write.py): one statement, one set of columns.
_INSERT_IF_ACTIVE = sqlite_rows.INSERT_CHUNK_IF_ACTIVE
_UPSERT_LATEST = sqlite_rows.UPSERT_LATEST


class MetricWriter(Protocol):
    """Points written straight to a driver, past SQLAlchemy (SqliteMetricWriter,
    pg_metric_write.PgMetricWriter): `prepare` makes a write's parameters (its CPU work, done
    before a server's turn at the database), `merge` joins two prepared writes into one, and
    `write_prepared` writes in one transaction, False (nothing written) when a run is missing
    or deleted, for the caller's slow path to say which. `compact` then runs the merges that
    write made due, where they come after its commit (PostgreSQL: a server answers the
    write's requests first); SQLite's writer merges inside the write's transaction, and its
    `compact` does nothing. `write` is all three."""

    def write(self, rows: Sequence[Row], stage: bool = False) -> bool: ...
    def prepare(self, rows: Sequence[Row], stage: bool = False) -> Any: ...
    def merge(self, first: Any, second: Any) -> Any: ...
    def write_prepared(self, prepared: Any) -> bool: ...
    def compact(self, prepared: Any) -> None: ...


class SqliteMetricWriter:
    """Metric rows into a SQLite store in one transaction, on a connection of its own.

    The connection is taken from the writer's pool once and kept: a checkout and return per
    point cost as much as the insert itself.
    """

    def __init__(self, engine: Engine, due: DueKeys) -> None:
        self.engine = engine
        self.due = due
        self._lock = threading.Lock()
        self._pooled: Any = None
        self._raw: sqlite3.Connection | None = None
        self._forks = -1

    def write(self, rows: Sequence[Row], stage: bool = False) -> bool:
        """Write `rows`; False (and nothing written) if one of their runs is not active. With
        `stage`, a run's points of many keys go in one staged row (metric_staging.py)."""
        return self.write_prepared(self.prepare(rows, stage))

    def prepare(self, rows: Sequence[Row], stage: bool = False) -> PreparedPoints:
        """`rows` as the statements' parameters: the CPU work of `write`, done before it (a
        server does it before taking the database's write turn, so the turn is the write's
        alone). Raises the store's error for a step or timestamp beyond 64 bits."""
        try:
            staged, _, direct = split_rows(rows) if stage else ([], [], rows)
            chunks = pack_rows(direct) if direct else []
            latest = latest_points(rows) if len(rows) == 1 else _latest_values(rows)
        except OverflowError as error:
            raise (db_errors.for_exception(None, error, self.engine.url) or error) from None
        return chunks, [latest], staged

    merge = staticmethod(merge_prepared)

    def compact(self, prepared: PreparedPoints) -> None:
        """Nothing: `write_prepared` merged what was due in its own transaction."""

    def write_prepared(self, prepared: PreparedPoints) -> bool:
        """`write` of what `prepare` made (or `merge` of several), one transaction."""
        chunks, latests, staged = prepared
        return self.transaction(lambda raw: self._write(raw, chunks, latests, staged))

    def transaction(self, write: Callable[[sqlite3.Connection], bool]) -> bool:
        """Run `write` on the kept connection (it begins and commits, or rolls back and
        returns False); a driver error is translated as the store's own are. A commit
        fires this thread's armed notice (commit_notice.py)."""
        with self._lock:
            raw = self._raw
            if raw is None or self._forks != _forks:
                raw = self._connection()
            try:
                done = write(raw)
            except sqlite3.Error as error:
                self._pooled, pooled, self._raw = None, self._pooled, None
                pooled.invalidate()  # whatever went wrong, the next write starts afresh
                raise db_errors.for_driver_error(error, sqlite3.Error, self.engine.url) from None
            if done:
                commit_notice.committed()
            return done

    def _connection(self) -> sqlite3.Connection:
        if self._pooled is not None and self._forks != _forks:
            # The parent's handle: never used, closed or returned to a pool in the child.
            _inherited.append(self._pooled)
        self._pooled = self.engine.raw_connection()
        self._forks = _forks
        raw = self._pooled.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        self._raw = raw
        return raw

    def _write(
        self,
        raw: sqlite3.Connection,
        chunks: list[dict[str, Any]],
        latests: list[list[Any]],
        staged: list[dict[str, Any]],
    ) -> bool:
        # A SQLITE_BUSY returned at once (WAL recovery, a checkpoint restarting it) is retried,
        # as the engine's own BEGIN is.
        sqlite_busy.retrying(lambda: raw.execute("BEGIN IMMEDIATE"))
        try:
            if len(chunks) == 1 and not staged:  # a synchronous point: execute < executemany
                inserted = raw.execute(_INSERT_IF_ACTIVE, chunks[0]).rowcount == 1
            else:  # a batch: each run checked once in this transaction, not once per chunk
                runs = {c["run_uuid"] for c in chunks} | {s["run_uuid"] for s in staged}
                inserted = all(sqlite_rows.run_is_active(raw, run_id) for run_id in runs)
                if inserted and chunks:
                    raw.executemany(sqlite_rows.INSERT_CHUNK, chunks)
                if inserted and staged:
                    raw.executemany(INSERT_STAGED, staged)
                if inserted:
                    sqlite_rows.unsettle(raw, runs)
            if not inserted:
                raw.execute("ROLLBACK")
                return False
            for latest in latests:  # one upsert each: a key may be in two of them
                if isinstance(latest[0], dict):  # a synchronous point (write's latest_points)
                    raw.execute(_UPSERT_LATEST, latest[0])
                else:
                    _upsert_latest(raw, latest)
            execute = sqlite_rows.execute_on(raw)
            keys = [(c["run_uuid"], c["key"]) for c in chunks]
            for run_id in STAGED_RUNS.due([s["run_uuid"] for s in staged]):
                keys.extend((run_id, key) for key in unstage(execute, "sqlite", run_id))
            for run_id, key in self.due.due(keys) if keys else ():
                compact_key(execute, "sqlite", run_id, key)
            raw.execute("COMMIT")
            return True
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise


# Many rows per upsert statement: half the CPU of executemany's row-at-a-time (100 rows, 0.35
# against 0.67 ms). A statement's rows are distinct (run, key)s (_latest_values), so none upserts
# a row another row of it inserted. 150 rows x 6 values stay under SQLite's oldest limit of 999.
_UPSERT_ROWS = 150
LATEST_HEAD, _LATEST_CONFLICT = pg_upserts.split(_UPSERT_LATEST)
_upsert_sql: dict[int, str] = {}


def _latest_values(rows: Sequence[Row]) -> list[Any]:
    """`latest_columns` of `rows`, flat in LATEST_COLUMNS order (the upsert's parameters)."""
    columns = latest_columns(rows)
    width = len(columns)
    flat: list[Any] = [None] * (width * len(columns[0]))
    for n, column in enumerate(columns):
        flat[n::width] = column
    return flat


def _upsert_latest(raw: sqlite3.Connection, latest: list[Any]) -> None:
    width = len(sqlite_rows.LATEST_COLUMNS)
    step = _UPSERT_ROWS * width
    for start in range(0, len(latest), step):
        part = latest[start : start + step] if len(latest) > step else latest
        rows = len(part) // width
        sql = _upsert_sql.get(rows)
        if sql is None:
            values = ", ".join(["(" + ", ".join("?" * width) + ", 0)"] * rows)  # unsettled
            sql = _upsert_sql[rows] = f"{LATEST_HEAD} VALUES {values}{_LATEST_CONFLICT}"
        raw.execute(sql, part)


def upsert_latest_points(conn: Connection, points: list[dict[str, Any]]) -> None:
    """`latest_points` through SQLAlchemy, written unsettled. On SQLite a batch's runs are
    taken out of the (key, value) index first, as the driver-level writers do (migration
    0010); on PostgreSQL many rows a statement (_pg_upsert_latest)."""
    if conn.dialect.name == "postgresql":
        _pg_upsert_latest(conn, points)
        return
    if len(points) > 1:
        conn.execute(q.UNSETTLE_RUN, [{"rid": r} for r in {p["run_uuid"] for p in points}])
    conn.execute(q.upsert_latest(), [{**point, "settled": False} for point in points])


# On PostgreSQL a row written is unsettled, inserted or updated: the settled index orders
# `settled_value`, which this leaves alone, so a new value of an unsettled row changes no indexed
# column and is a heap-only update (migration 0011). Setting the flag it already has is no change.
PG_LATEST_CONFLICT = _LATEST_CONFLICT.replace(
    '"is_nan" = excluded."is_nan"', '"is_nan" = excluded."is_nan", "settled" = false'
)
PG_LATEST_TYPES = ("text", "text", "bigint", "bigint", "float8", "boolean")


def _pg_upsert_latest(conn: Connection, points: list[dict[str, Any]]) -> None:
    columns = sqlite_rows.LATEST_COLUMNS
    pg_upserts.upsert(
        conn,
        LATEST_HEAD,
        PG_LATEST_CONFLICT,
        columns,
        PG_LATEST_TYPES,
        points,
        columns[:2],
        ", false",
    )


_PG_PARAM = re.compile(r":(\w+)")
_pg_sql: dict[str, str] = {}


def sa_execute(conn: Connection) -> Execute:
    """Compaction's statements on a SQLAlchemy connection, in its current transaction.

    On psycopg2 a statement given many rows' parameters goes to the server in one round trip
    (`execute_batch`), where its executemany sends one per row: merging a run's staged rows
    (100 keys' chunks written, ~30 staged rows deleted) made ~130 round trips, four for each
    request of a server's JSON load on average."""
    postgres = conn.dialect.name == "postgresql"
    batch = postgres and conn.dialect.driver == "psycopg2"

    def execute(sql: str, params: Any) -> list[Any]:
        if postgres:
            sql = _pg_sql.get(sql) or _pg_sql.setdefault(sql, _PG_PARAM.sub(r"%(\1)s", sql))
        if batch and isinstance(params, list) and len(params) > 1:
            _psycopg2_batch(conn, sql, params)
            return []
        result = conn.exec_driver_sql(sql, params)
        return list(result.fetchall()) if result.returns_rows else []

    return execute


_BATCH_ROWS = 1000  # statements a round trip: a merge of many chunks stays a few of them


def _psycopg2_batch(conn: Connection, sql: str, params: list[Any]) -> None:
    import psycopg2
    from psycopg2.extras import execute_batch

    try:
        with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            execute_batch(cursor, sql, params, page_size=_BATCH_ROWS)
    except psycopg2.Error as error:  # as a statement through SQLAlchemy raises it
        raise db_errors.for_driver_error(error, psycopg2.Error, conn.engine.url) from None


def compact_due(
    conn: Connection, due: DueKeys, keys: Sequence[tuple[str, str]], staged: Sequence[str] = ()
) -> None:
    """Count a write of each (run, key) and a staged row of each run in `staged`; merge the
    staged rows of runs due and tail-compact the keys due, in `conn`'s transaction."""
    keys = list(keys)
    for run_id in STAGED_RUNS.due(staged) if staged else ():
        keys.extend((run_id, key) for key in unstage(sa_execute(conn), conn.dialect.name, run_id))
    now = due.due(keys)
    if now:
        execute = sa_execute(conn)
        for run_id, key in now:
            compact_key(execute, conn.dialect.name, run_id, key)


def compact_after_read(writer: Engine, run_id: str, key: str, counts: Sequence[int]) -> None:
    """A read found `counts` chunks for (run_id, key): merge them if many are small.

    Best effort: the read already has its points, so a store that cannot be written now (read
    only, locked) only means the next read merges them."""
    if len(counts) <= READ_COMPACT_CHUNKS or not full_groups(counts):
        return
    try:
        with writer.begin() as conn:
            compact_key(sa_execute(conn), conn.dialect.name, run_id, key, full=True)
    except Exception as error:
        _log.debug("could not compact metric %r of run %s: %s", key, run_id, error)

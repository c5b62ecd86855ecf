"""A process's first writes to a SQLite store, through the stdlib `sqlite3` module.

Importing SQLAlchemy costs a fresh process about 0.4 s, four times the budget for a first
durable point. `start_run`, `log_metric`/`log_param`/`set_tag` and a flush need none of it: on
a SQLite file whose schema is current, `FirstWriteStore` writes the rows `SqlStore` writes (run
with its owner columns, tags, params, metric chunks, latest metrics) with fixed SQL, checked by
the same `rules`, while a background thread opens the full `SqlStore`. Once that is open every
call goes to it; anything else (reads, searches, registry) waits for it. When the fast path
meets something to explain (a missing or deleted run or experiment, a param that would change,
a database error) it writes nothing and hands the call to the full store, which says what is
wrong in the store's usual words. Columns here are checked against `schema.py` by a test.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from notebook_tracker.clock import now_ms
from notebook_tracker.config import default_artifact_root
from notebook_tracker.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
)
from notebook_tracker.errors import StoreUnavailable
from notebook_tracker.store import rules, sqlite_busy, sqlite_new_store
from notebook_tracker.store import sqlite_rows as sql_rows
from notebook_tracker.store.metric_chunks import latest_points, pack_rows
from notebook_tracker.store.metric_compaction import DueKeys
from notebook_tracker.store.new_runs import new_run

T = TypeVar("T")
Row = tuple[str, str, float, int, int]

_VERSIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations", "versions")

OPEN_AFTER_S = 0.5
_inherited: list[sqlite3.Connection] = []


def head_revision() -> str:
    """The newest migration this code ships: a store at it needs no migration. Read from the
    migration files, so it moves with them (a test checks it equals schema.HEAD_REVISION)."""
    # A listing, not Path.glob, whose pattern would compile a regex on a first point's path.
    names = [n[:-3] for n in os.listdir(_VERSIONS_DIR) if n[:1].isdigit() and n.endswith(".py")]
    return max(names) if names else ""


def sqlite_file(uri: str) -> str | None:
    """The database file of a plain `sqlite:///path` URI, or None (memory, options, others)."""
    if not uri.startswith("sqlite:///") or "?" in uri:
        return None
    database = uri[len("sqlite:///") :]
    return database if database and database != ":memory:" else None


class FirstWriteStore:
    """A SQLite tracking store that writes before SQLAlchemy is imported; see the module doc.

    Open it with `open`, which creates a new file's schema (sqlite_new_store.py) and returns
    None when the fast path does not apply: not a SQLite file, or a schema that is not at this
    code's head revision.
    """

    def __init__(self, uri: str, connection: sqlite3.Connection) -> None:
        self.uri = uri
        self._conn: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self._full_store: Any = None
        self._opened = threading.Event()
        self._loader_pid = os.getpid()
        self._due = DueKeys()  # chunk writes per (run, key), as the full store counts its own

        self._loading = False

    def start_opening(self) -> None:
        """Open the full store in the background OPEN_AFTER_S from now. Not at once: the import
        would take the GIL from the first run's own work (on two cores, start_run took 300 ms
        beside it instead of 20). Nor as soon as the first points are written: a short script
        would then exit with SQLAlchemy half imported, and tearing that down took longer than
        the script's own work (~170 ms more wall on the loaded 2-core machine)."""
        timer = threading.Timer(OPEN_AFTER_S, self._open_now)
        timer.daemon = True
        timer.start()

    def _open_now(self) -> None:
        with self._lock:
            if self._loading:
                return
            self._loading = True
        # The thread holds the factory's lock while it opens the store.
        threading.Thread(target=self._load, name="notebook-tracker-open", daemon=True).start()

    @classmethod
    def open(cls, uri: str) -> FirstWriteStore | None:
        database = sqlite_file(uri)
        if database is None:
            return None
        revision = head_revision()
        if not os.path.exists(database) and not cls._create(uri, database, revision):
            return None
        try:
            conn = sql_rows.connect(database)
        except sqlite3.Error:
            return None  # the full store opens it, or says why it cannot
        found = cls._revision(conn)
        if found is None and cls._create(uri, database, revision):
            found = cls._revision(conn)  # a new file, or one another process is creating
        if found != revision:
            conn.close()
            return None
        return cls(uri, conn)

    @staticmethod
    def _revision(conn: sqlite3.Connection) -> str | None:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    @staticmethod
    def _create(uri: str, database: str, revision: str) -> bool:
        return sqlite_new_store.create(database, revision, default_artifact_root(uri))

    # -- the full store ----------------------------------------------------------------------
    def _load(self) -> None:
        from notebook_tracker.store import factory

        try:
            self._full_store = factory.open_tracking_in_background(self.uri)
        except BaseException:  # noqa: BLE001 - the next call that needs it opens it again and raises
            pass
        finally:
            self._opened.set()

    def full(self) -> Any:
        """The `SqlStore` of this URI, waiting for the background open if it is under way."""
        if self._full_store is None:
            with self._lock:
                started, self._loading = self._loading, True
            if started and self._loader_pid == os.getpid():
                self._opened.wait()
            if self._full_store is None:  # not started, failed, or a forked child: open it here
                from notebook_tracker.store import factory

                self._full_store = factory.tracking_store(self.uri)
        if self._conn is not None:
            with self._lock:
                if self._conn is not None and self._loader_pid != os.getpid():
                    _inherited.append(self._conn)  # a parent's handle: never closed in a child
                elif self._conn is not None:
                    self._conn.close()
                    # No fast write follows (the lock is held, the connection gone): the full
                    # store counts on from this path's chunk writes. Counting afresh left up to
                    # 108 single-point chunks of a synchronous loop uncompacted.
                    due = getattr(self._full_store, "compaction_due", None)
                    if due is not None:
                        due.adopt(self._due)
                self._conn = None
        return self._full_store

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.full(), name)

    def _fast(
        self, write: Callable[[sqlite3.Connection], T | None], begin: str = "BEGIN IMMEDIATE"
    ) -> T | None:
        """`write` in one transaction on the sqlite3 connection; None (and nothing written)
        when the full store is open, `write` declines, or the database fails. A lock held past
        the busy timeout is raised here: handing it to the full store would wait as long again."""
        if self._full_store is not None or self._loader_pid != os.getpid():
            return None
        with self._lock:
            conn = self._conn
            if conn is None:
                return None
            started = time.monotonic()
            try:
                sqlite_busy.retrying(lambda: conn.execute(begin))
                result = write(conn)
                conn.execute("COMMIT" if result is not None else "ROLLBACK")
                return result
            except sqlite3.Error as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                waited = time.monotonic() - started
                if sqlite_busy.is_busy(error) and waited >= sqlite_busy.FAST_FAILURE_S:
                    raise self._locked() from None
                return None
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _locked(self) -> StoreUnavailable:
        # The words of the full store's translation (db_errors.py), which a test compares.
        path = os.path.abspath(sqlite_file(self.uri) or "")
        return StoreUnavailable(
            f"The SQLite database {path} stayed locked by another process for 30 s: retry; "
            "or use another tracking URI."
        )

    def _fast_or_full(
        self, write: Callable[[sqlite3.Connection], bool | None] | None, full: Callable[[], None]
    ) -> None:
        """`write` on the fast path, or, when there is none or it declines or cannot, `full()`
        on the full store (which writes it, or says what is wrong in the store's usual words)."""
        try:
            if write is not None and self._fast(write):
                return
        except OverflowError:
            pass  # a step or timestamp past 64 bits: the full store's message names it
        full()

    # -- what a first run reads --------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """`set_experiment(name)` of an existing experiment without waiting for the full store;
        a missing one is created by the full store (which settles a creation race)."""
        found = self._fast(lambda conn: sql_rows.experiment_by_name(conn, name), begin="BEGIN")
        if found is not None:
            return found
        exp: Experiment | None = self.full().get_experiment_by_name(name)
        return exp

    # -- what a first run writes -------------------------------------------------------------
    def metric_sink(self) -> None:
        return None  # the metric buffer writes with log_metric_rows

    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        record_owner: bool = True,
    ) -> Run:
        args = (experiment_id, user_id, start_time, tags, run_name, parent_run_id, record_owner)
        digits = str(experiment_id)
        if not (digits.isascii() and digits.isdigit()) or int(digits) >= 2**31:
            return self._full_create_run(args)  # it says what is wrong with the id
        exp_id = int(experiment_id)
        run = new_run(user_id, start_time, tags, run_name, parent_run_id, record_owner)

        def write(conn: sqlite3.Connection) -> str | None:
            exp = conn.execute(
                'SELECT "lifecycle_stage", "artifact_location" FROM "experiments" '
                'WHERE "experiment_id" = ?',
                (exp_id,),
            ).fetchone()
            if exp is None or exp[0] != LifecycleStage.ACTIVE:
                return None
            artifact_uri = f"{exp[1]}/{run.run_id}/artifacts"
            conn.execute(sql_rows.INSERT_RUN, run.row(exp_id, artifact_uri))
            conn.executemany(sql_rows.INSERT_TAG, run.tag_rows())
            return artifact_uri

        artifact_uri = self._fast(write)
        if artifact_uri is None:
            return self._full_create_run(args)
        return run.run(exp_id, artifact_uri)

    def _full_create_run(self, args: tuple[Any, ...]) -> Run:
        run: Run = self.full().create_run(*args)
        return run

    def log_metric_rows(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self._full_store is None and self._write_points(rows):
            return
        self.full().log_metric_rows(rows)

    def _write_points(self, rows: Sequence[Row]) -> bool:
        try:
            chunks, latest = pack_rows(rows), latest_points(rows)
        except OverflowError:
            return False  # the full store's message names the step or timestamp

        def write(conn: sqlite3.Connection) -> bool | None:
            return sql_rows.insert_points(conn, chunks, latest, self._due) or None

        return bool(self._fast(write))

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        model_metrics: Sequence[Any] = (),
    ) -> None:
        checked_params, checked_tags = rules.batch([m.key for m in metrics], params, tags)
        wanted = {p.key: p.value for p in checked_params}
        latest_tags = {t.key: t.value for t in checked_tags}
        simple = (
            not model_metrics
            and self._full_store is None
            and len(wanted) == len(checked_params)  # a key twice: the full store explains
            and len(wanted) <= sql_rows.MAX_KEYS
            and len(latest_tags) <= sql_rows.MAX_KEYS
        )

        rows = [(run_id, m.key, m.value, m.timestamp, m.step) for m in metrics] if simple else []

        def write(conn: sqlite3.Connection) -> bool | None:
            if not sql_rows.run_is_active(conn, run_id):
                return None
            if wanted and not sql_rows.insert_params(conn, run_id, wanted):
                return None
            if latest_tags:
                sql_rows.upsert_tags(conn, run_id, latest_tags)
            if rows:
                sql_rows.insert_points(conn, pack_rows(rows), latest_points(rows), self._due)
            return True

        self._fast_or_full(
            write if simple else None,
            lambda: self.full().log_batch(run_id, metrics, params, tags, model_metrics),
        )

    def end_run(
        self, run_id: str, status: str, end_time: int, metric_rows: Sequence[Row] = ()
    ) -> None:
        rows = list(metric_rows)

        def write(conn: sqlite3.Connection) -> bool | None:
            if (
                conn.execute('SELECT 1 FROM "runs" WHERE "run_uuid" = ?', (run_id,)).fetchone()
                is None
            ):
                return None
            if rows and not sql_rows.insert_points(
                conn, pack_rows(rows), latest_points(rows), self._due
            ):
                return None
            conn.execute(
                'UPDATE "runs" SET "status" = ?, "end_time" = ? WHERE "run_uuid" = ?',
                (status, end_time, run_id),
            )
            conn.execute(sql_rows.SETTLE_RUN, (run_id,))
            return True

        self._fast_or_full(
            write if status in RunStatus.TERMINATED else None,
            lambda: self.full().end_run(run_id, status, end_time, rows),
        )

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        ids = list(run_ids)[: sql_rows.MAX_KEYS]

        def write(conn: sqlite3.Connection) -> bool:
            conn.execute(
                f'UPDATE "runs" SET "heartbeat_time" = ? WHERE "run_uuid" IN '
                f'({", ".join("?" * len(ids))}) AND "status" = ?',
                (now_ms(), *ids, RunStatus.RUNNING),
            )
            return True

        self._fast_or_full(write, lambda: self.full().heartbeat(run_ids))

"""SQLAlchemy engines for a tracking URI: one pair per URI per process, tuned per dialect."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from notebook_tracker import env
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store import db_errors, sqlite_busy, sqlite_rows
from notebook_tracker.store.sqlite_files import database_file

_engines: dict[str, tuple[Engine, Engine]] = {}
_lock = threading.Lock()


def engines_for(uri: str) -> tuple[Engine, Engine]:
    """(reader, writer). On SQLite the writer takes the write lock up front (BEGIN IMMEDIATE):
    a deferred transaction that upgrades to a write fails at once under contention instead of
    waiting for the busy timeout, which is how concurrent processes lose writes."""
    with _lock:
        pair = _engines.get(uri)
        if pair is None:
            pair = (_create(uri, immediate=False), _create(uri, immediate=True))
            _engines[uri] = pair
        return pair


def _create(uri: str, immediate: bool) -> Engine:
    if uri.startswith("sqlite"):
        engine = _create_sqlite(uri, immediate)
    elif uri.startswith(("postgresql", "postgres")) and not immediate:
        from notebook_tracker.store.pg_reads import create_reader

        engine = create_reader(_postgres_url(uri), pool_size=5, max_overflow=10)
    elif uri.startswith(("postgresql", "postgres")):
        from notebook_tracker.store.pg_reads import ping_when_idle

        engine = create_engine(_postgres_url(uri), pool_size=5, max_overflow=10)
        ping_when_idle(engine)  # not a ping round trip before every write transaction
    else:
        raise InvalidParameter(
            f"Unsupported tracking URI {uri!r}: use sqlite:///path/to/tracker.db, "
            "postgresql://user:password@host/db, http(s)://server, or a folder path."
        )
    # Every database failure of the store becomes a TrackerError here, in one place.
    event.listen(engine, "handle_error", db_errors.translate)
    return engine


def _postgres_url(uri: str) -> str:
    """Users type `postgresql://`; pick whichever driver is installed (psycopg2 or psycopg 3)."""
    scheme, rest = uri.split("://", 1)
    if "+" in scheme:
        return uri
    import importlib.util

    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    raise InvalidParameter(
        "A postgresql:// tracking URI needs a PostgreSQL driver: "
        "pip install 'notebook-tracker[postgres]' (psycopg2-binary)."
    )


def _create_sqlite(uri: str, immediate: bool) -> Engine:
    database = database_file(uri)
    if database:
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise db_errors.folder_error(database, error) from None
    engine = create_engine(uri, connect_args={"timeout": 30, "check_same_thread": False})
    # FULL fsyncs the WAL at each commit: a committed flush survives a power loss, which is what
    # docs/tracking.md promises. NORMAL only survives a process crash (see the durability section).
    synchronous = env.sqlite_synchronous()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        sqlite_busy.retrying(lambda: cur.execute("PRAGMA journal_mode=WAL"))
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA journal_size_limit={sqlite_rows.WAL_SIZE_LIMIT}")
        # mmap shares the OS page cache across pooled connections: searches over a store that
        # outgrew SQLite's small default cache run about twice as fast, at no per-connection cost.
        cur.execute("PRAGMA mmap_size=268435456")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        driver: Any = conn.connection.driver_connection
        try:
            sqlite_busy.retrying(lambda: driver.execute(begin))
        except sqlite3.Error as error:
            wrapped = sa_exc.OperationalError(begin, None, error)
            raise (db_errors.for_exception(wrapped, error, conn.engine.url) or error) from None

    return engine


def _dispose_after_fork() -> None:
    # A forked worker must not share its parent's database sockets or SQLite handles.
    for reader, writer in _engines.values():
        reader.dispose(close=False)
        writer.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_dispose_after_fork)

"""A big page's params, latest metrics and tags on PostgreSQL: each table's statement on a
connection of its own, all at once, so the server works on two cores instead of one.

A 50,000-run page's values cost ~0.7-1.1 s of server CPU (one index probe per id and table,
grouped by key) against ~0.1-0.15 s of client CPU to read the arrays (loaded machine): the
read waits on one backend while the machine's other core idles. Run apart, the three tables
are three backends. Measured alternatives that did not help: a hash or merge join (slower,
or a seq scan per page at 1M runs), the values as CSV rows through COPY parsed by Arrow
(+0.14 s server, +0.2 s client: a row per value costs more to print and read than arrays).

The worker threads (two per process) read through a pool of their own, never the reader's:
otherwise as many big reads at once as the reader's pool holds would wait on workers waiting
for that pool.

Small pages keep the one statement (sql_run_columns.py): a round trip and a connection
checkout cost more than the reads they would overlap.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import Connection, Engine, event

from notebook_tracker.store.sqlite_key_values import driver_rows

# From this many ids a page's tables are read at once.
AT_ONCE_FROM = 2_000
# Extra connections (and threads) one process uses for this at most, whatever the number of
# big reads at once (a second one waits for them).
_WORKERS = 2

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
# Reader engine -> the workers' own engine (see _workers_engine).
_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _after_fork() -> None:
    # A forked child inherits the executor but not its threads (its tasks would never run),
    # and must not share its parent's database sockets.
    global _executor
    _executor = None
    for engine in _engines.values():
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="nt-pg-values")
        return _executor


def _workers_engine(reader: Engine) -> Engine:
    """A pool of the workers' own: were they to check out the reader's connections, as many big
    reads at once as that pool holds would each wait on a worker waiting on that pool."""
    with _lock:
        engine = _engines.get(reader)
        if engine is None:
            from notebook_tracker.store import db_errors
            from notebook_tracker.store.pg_reads import create_reader

            url = reader.url.render_as_string(hide_password=False)
            engine = create_reader(url, pool_size=_WORKERS, max_overflow=0)
            event.listen(engine, "handle_error", db_errors.translate)
            _engines[reader] = engine
        return engine


def rows_at_once(conn: Connection, statements: Sequence[str], params: Any) -> list[tuple[Any, ...]]:
    """The rows of every statement, in order: the first on `conn`, the others each on a
    connection to the same database, at the same time."""
    engine = _workers_engine(conn.engine)

    def run(sql: str) -> list[tuple[Any, ...]]:
        with engine.connect() as other:
            return driver_rows(other, sql, params)

    futures: list[Future[list[tuple[Any, ...]]]] = [
        _pool().submit(run, sql) for sql in statements[1:]
    ]
    try:
        rows = driver_rows(conn, statements[0], params)
    finally:
        wait(futures)  # none left reading once this returns or raises
    for future in futures:
        rows += future.result()
    return rows


__all__ = ["AT_ONCE_FROM", "rows_at_once"]

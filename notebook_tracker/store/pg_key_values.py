"""A big page's params, latest metrics and tags on PostgreSQL: each table's statement on a
connection of its own, all at once, so the server works on two cores instead of one.

A 50,000-run page's values cost ~0.7-1.1 s of server CPU (one index probe per id and table,
grouped by key) against ~0.1-0.15 s of client CPU to read the arrays (loaded machine): the
read waits on one backend while the machine's other core idles. Run apart, the three tables
are three backends. Measured alternatives that did not help: a hash or merge join (slower,
or a seq scan per page at 1M runs), the values as CSV rows through COPY parsed by Arrow
(+0.14 s server, +0.2 s client: a row per value costs more to print and read than arrays).

Small pages keep the one statement (sql_run_columns.py): a round trip and a connection
checkout cost more than the reads they would overlap.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import Connection

from notebook_tracker.store.sqlite_key_values import driver_rows

# From this many ids a page's tables are read at once.
AT_ONCE_FROM = 2_000
# Extra connections one process uses for this at most (a second big read waits for them).
_WORKERS = 2

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _forget_executor() -> None:
    # A forked child inherits the executor but not its threads: tasks would never run.
    global _executor
    _executor = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="nt-pg-values")
        return _executor


def rows_at_once(conn: Connection, statements: Sequence[str], params: Any) -> list[tuple[Any, ...]]:
    """The rows of every statement, in order: the first on `conn`, the others each on a
    connection of `conn`'s engine, at the same time."""

    def run(sql: str) -> list[tuple[Any, ...]]:
        with conn.engine.connect() as other:
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

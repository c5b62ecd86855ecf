"""A SQLITE_BUSY that SQLite returns at once is retried; a lasting lock is reported at once."""

from __future__ import annotations

import sqlite3
import time

import pytest

import notebook_tracker as nt
from notebook_tracker.errors import StoreUnavailable
from notebook_tracker.store import engine as engine_module
from notebook_tracker.store import forget_stores, sqlite_busy


class FailsFast:
    """Raises `error` the first `times` calls, immediately, then answers."""

    def __init__(self, times: int, error: str = "database is locked") -> None:
        self.times, self.error, self.calls = times, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise sqlite3.OperationalError(self.error)
        return "done"


def test_a_busy_error_returned_at_once_is_retried_until_the_statement_succeeds():
    run = FailsFast(times=3)
    assert sqlite_busy.retrying(run) == "done"
    assert run.calls == 4


def test_retries_stop_after_a_bounded_number_of_attempts():
    run = FailsFast(times=100)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_busy.retrying(run)
    assert run.calls == sqlite_busy.RETRIES


def test_a_busy_error_that_waited_for_the_timeout_is_not_retried():
    calls = []

    def slow_lock() -> None:
        calls.append(1)
        time.sleep(0.05)  # stands for the 30 s busy timeout
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        sqlite_busy.retrying(slow_lock, fast_failure_s=0.01)
    assert len(calls) == 1


def test_other_errors_are_not_retried():
    run = FailsFast(times=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        sqlite_busy.retrying(run)
    assert run.calls == 1


def test_a_store_whose_lock_outlasts_the_busy_timeout_says_so_in_the_store_error(
    tmp_path, monkeypatch
):
    db = tmp_path / "held.db"
    forget_stores()
    engine_module._engines.clear()
    client = nt.TrackingClient(f"sqlite:///{db}")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # As if 30 s had passed: each BEGIN IMMEDIATE of the store gives up after 0.2 s.
        with client.store.writer.connect() as conn:
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=200")
            monkeypatch.setattr(sqlite_busy, "FAST_FAILURE_S", 0.1)
            with pytest.raises(StoreUnavailable, match=f"{db}.*locked by another process"):
                with conn.begin():
                    pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        forget_stores()
        engine_module._engines.clear()

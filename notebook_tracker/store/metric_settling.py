"""Settling: latest metrics of runs no longer logged to go back into the (key, value) index.

SQLite's batch writers take a run's `latest_metrics` rows out of that index while the run is
logged to (migration 0010), and a run's end puts them back. A run that never ends (its client
crashed, or an MLflow client never called end_run) would stay out for good, and a search
ordered by a metric sorts such rows rather than walking the index: 152 ms for a page of
100,000 such runs, against 3.4 ms settled. So searches ordered by a metric start a background
pass (at most every SETTLE_INTERVAL_S, never waited for) that settles the runs whose newest
latest metric is older than SETTLE_IDLE_MS, SETTLE_BATCH runs per transaction.

Settling only moves index entries: a run settled while a writer logs to it again is taken out
by that writer's next batch, and a search reads the right values either way.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, bindparam, false, func, select

from notebook_tracker.clock import now_ms
from notebook_tracker.store import sql_statements as q
from notebook_tracker.store.background_pass import BackgroundPass
from notebook_tracker.store.schema import latest_metrics
from notebook_tracker.store.sqlite_files import database_file

SETTLE_IDLE_MS = 10 * 60 * 1000
SETTLE_INTERVAL_S = 60.0
# Runs per transaction: a run of 100 keys puts 100 entries in the index (~0.3 ms at 10,000
# runs), so a batch holds SQLite's write lock for some tens of ms.
SETTLE_BATCH = 200
_PAUSE_S = 0.1  # between batches, as the packer and the reaper do for queued writers

# Core, as sql_statements.settle_run's statements, which settle what this finds: one statement
# for both dialects, the flag spelled as each one's partial index on unsettled rows matches.
_IDLE = (
    select(latest_metrics.c.run_uuid)
    .where(latest_metrics.c.settled == false())
    .group_by(latest_metrics.c.run_uuid)
    .having(func.max(latest_metrics.c.timestamp) < bindparam("cutoff"))
    .limit(bindparam("n"))
)


def settle_idle_runs(
    engine: Engine, idle_ms: int = SETTLE_IDLE_MS, pause_s: float = _PAUSE_S
) -> int:
    """Settle every run whose rows are out of the index and whose newest latest metric is
    older than `idle_ms`, in batches; the number of runs settled."""
    done = 0
    while True:
        with engine.begin() as conn:
            found = conn.execute(_IDLE, {"cutoff": now_ms() - idle_ms, "n": SETTLE_BATCH})
            ids = sorted(row[0] for row in found)  # as writers lock them
            if ids:
                conn.execute(q.settle_run(conn), [{"rid": run_id} for run_id in ids])
        done += len(ids)
        if len(ids) < SETTLE_BATCH:
            return done
        time.sleep(pause_s)


class SettlerMixin:
    """`SqlStore`'s background settling pass, started by searches ordered by a metric."""

    writer: Any
    _settler: BackgroundPass

    def maybe_settle(self) -> None:
        """Start a pass unless one is running or started SETTLE_INTERVAL_S ago; never waits."""
        if self.writer.dialect.name == "sqlite" and database_file(self.writer.url) is None:
            return  # a memory database is one per thread: a pass would see another one
        self._settler.start(lambda: settle_idle_runs(self.writer))

    def wait_for_settler(self, timeout: float | None = None) -> None:
        """Block until a background pass is over (tests, benchmarks)."""
        self._settler.wait(timeout)


__all__ = ["SETTLE_IDLE_MS", "SETTLE_INTERVAL_S", "SettlerMixin", "settle_idle_runs"]

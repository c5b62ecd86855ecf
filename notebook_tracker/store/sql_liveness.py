"""Runs of dead processes, and purging deleted runs: a mixin of `SqlStore`."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from notebook_tracker import liveness
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import LifecycleStage, Run, RunInfo, RunStatus, RunTag
from notebook_tracker.store import sql_statements as q
from notebook_tracker.store.background_pass import BackgroundPass
from notebook_tracker.store.latest_folding import fold_runs
from notebook_tracker.store.schema import latest_metrics as latest_metrics_t
from notebook_tracker.store.schema import metric_chunks as metric_chunks_t
from notebook_tracker.store.schema import params as params_t
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.schema import tags as tags_t

REAP_INTERVAL_S = 10.0
# Runs marked KILLED per write transaction: short enough that a writer in another process
# waits milliseconds, not the whole pass (10,000 runs in one transaction held the lock ~2.5 s).
REAP_BATCH = 500
REAP_PAUSE_S = 0.1
KILLED_REASON = RunTag("notebook_tracker.killed_reason", "owner process gone")


class LivenessMixin:
    reader: Any
    writer: Any
    heartbeat_timeout_ms: int
    _reaper: BackgroundPass

    if TYPE_CHECKING:  # provided by SqlStore, which this is mixed into

        def _load_runs(self, conn: Connection, ids: Sequence[str]) -> list[Run]: ...

    # -- liveness ----------------------------------------------------------------------------
    def heartbeat(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self.writer.begin() as conn:
            conn.execute(
                update(runs_t)
                .where(
                    and_(runs_t.c.run_uuid.in_(list(run_ids)), runs_t.c.status == RunStatus.RUNNING)
                )
                .values(heartbeat_time=now_ms())
            )

    def maybe_reap(self) -> None:
        """Called by reads: starts a background pass at most every REAP_INTERVAL_S and never
        waits for it, so a read costs the same with 0 or 100,000 orphaned runs."""
        self._reaper.start(self.reap_dead_runs)

    def wait_for_reaper(self, timeout: float | None = None) -> None:
        """Block until a background pass started by a read is over (tests, benchmarks)."""
        self._reaper.wait(timeout)

    def reap_dead_runs(self) -> list[str]:
        """Mark RUNNING runs whose owner is gone (or silent past the heartbeat timeout) KILLED,
        REAP_BATCH runs per transaction; returns the ids marked."""
        self._reaper.ran_now()
        deadline = now_ms() - self.heartbeat_timeout_ms
        with self.reader.connect() as conn:
            candidates = conn.execute(
                select(
                    runs_t.c.run_uuid,
                    runs_t.c.owner_host,
                    runs_t.c.owner_pid,
                    runs_t.c.owner_started,
                    runs_t.c.heartbeat_time,
                ).where(runs_t.c.status == RunStatus.RUNNING)
            ).all()
        gone = functools.lru_cache(maxsize=None)(liveness.owner_is_gone)  # one /proc read per owner
        dead = [
            (r.run_uuid, r.heartbeat_time)
            for r in candidates
            if gone(r.owner_host, r.owner_pid, r.owner_started)
            or (r.heartbeat_time is not None and r.heartbeat_time < deadline)
        ]
        killed: list[str] = []
        for start in range(0, len(dead), REAP_BATCH):
            if start:
                # SQLite's busy handler retries a waiting writer every 100 ms at most: pausing as
                # long lets writers queued behind a batch in before the next one.
                time.sleep(REAP_PAUSE_S)
            killed += self._kill(dead[start : start + REAP_BATCH])
        return killed

    def _kill(self, batch: Sequence[tuple[str, int | None]]) -> list[str]:
        last_seen = dict(batch)
        with self.writer.begin() as conn:
            # Re-read under the write lock: a run may have ended since the scan.
            ids = [
                row[0]
                for row in conn.execute(
                    select(runs_t.c.run_uuid).where(
                        and_(
                            runs_t.c.run_uuid.in_(list(last_seen)),
                            runs_t.c.status == RunStatus.RUNNING,
                        )
                    )
                )
            ]
            if not ids:
                return []
            fallback = now_ms()
            conn.execute(
                update(runs_t)
                .where(runs_t.c.run_uuid == bindparam("rid"))
                .values(status=RunStatus.KILLED, end_time=bindparam("end")),
                [{"rid": i, "end": last_seen[i] or fallback} for i in ids],
            )
            fold_runs(conn, sorted(ids))
            conn.execute(q.settle_run(conn), [{"rid": i} for i in sorted(ids)])
            conn.execute(
                delete(tags_t).where(
                    and_(tags_t.c.run_uuid.in_(ids), tags_t.c.key == KILLED_REASON.key)
                )
            )
            conn.execute(
                insert(tags_t),
                [
                    {"run_uuid": i, "key": KILLED_REASON.key, "value": KILLED_REASON.value}
                    for i in ids
                ],
            )
        return ids

    # -- garbage collection ------------------------------------------------------------------
    def deleted_runs(self, older_than_ms: int | None = None) -> list[RunInfo]:
        cond = runs_t.c.lifecycle_stage == LifecycleStage.DELETED
        if older_than_ms is not None:
            cond = and_(cond, runs_t.c.deleted_time <= now_ms() - older_than_ms)
        with self.reader.connect() as conn:
            ids = [r[0] for r in conn.execute(select(runs_t.c.run_uuid).where(cond))]
            return [run.info for run in self._load_runs(conn, ids)]

    def purge_run(self, run_id: str) -> None:
        with self.writer.begin() as conn:
            for table in (metric_chunks_t, latest_metrics_t, params_t, tags_t):
                conn.execute(delete(table).where(table.c.run_uuid == run_id))
            conn.execute(delete(runs_t).where(runs_t.c.run_uuid == run_id))

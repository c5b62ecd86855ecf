"""Runs of dead processes, and purging deleted runs: a mixin of `SqlStore`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, select, update

from notebook_tracker import liveness
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import LifecycleStage, Run, RunInfo, RunStatus, RunTag
from notebook_tracker.store.schema import latest_metrics as latest_metrics_t
from notebook_tracker.store.schema import metric_chunks as metric_chunks_t
from notebook_tracker.store.schema import params as params_t
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.schema import tags as tags_t

REAP_INTERVAL_S = 10.0


class LivenessMixin:
    reader: Any
    writer: Any
    heartbeat_timeout_ms: int
    _last_reap: float

    if TYPE_CHECKING:  # provided by SqlStore, which this is mixed into

        def _upsert_tags(self, conn: Connection, run_id: str, new: Sequence[RunTag]) -> None: ...
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
        if time.monotonic() - self._last_reap >= REAP_INTERVAL_S:
            self.reap_dead_runs()

    def reap_dead_runs(self) -> list[str]:
        self._last_reap = time.monotonic()
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
        dead = [
            (r.run_uuid, r.heartbeat_time)
            for r in candidates
            if liveness.owner_is_gone(r.owner_host, r.owner_pid, r.owner_started)
            or (r.heartbeat_time is not None and r.heartbeat_time < deadline)
        ]
        if dead:
            with self.writer.begin() as conn:
                for run_id, last_seen in dead:
                    conn.execute(
                        update(runs_t)
                        .where(
                            and_(runs_t.c.run_uuid == run_id, runs_t.c.status == RunStatus.RUNNING)
                        )
                        .values(status=RunStatus.KILLED, end_time=last_seen or now_ms())
                    )
                    self._upsert_tags(
                        conn,
                        run_id,
                        [RunTag("notebook_tracker.killed_reason", "owner process gone")],
                    )
        return [run_id for run_id, _ in dead]

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

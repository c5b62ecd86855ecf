"""Marking runs of dead processes KILLED happens off the request path, in short batches."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from sqlalchemy import event, func, insert, select

import notebook_tracker as nt
from notebook_tracker import liveness
from notebook_tracker.store import forget_stores
from notebook_tracker.store.schema import runs, tags
from notebook_tracker.store.sql_liveness import REAP_BATCH

ORPHANS = 10_000


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _orphan_runs(store, count: int) -> None:
    pid = _dead_pid()
    rows = [
        {
            "run_uuid": f"{i:032x}",
            "name": f"orphan-{i}",
            "experiment_id": 0,
            "status": "RUNNING",
            "start_time": 1000 + i,
            "lifecycle_stage": "active",
            "owner_host": liveness.hostname(),
            "owner_pid": pid,
            "owner_started": 1,
            "heartbeat_time": 2000 + i,
        }
        for i in range(count)
    ]
    with store.writer.begin() as conn:
        conn.execute(insert(runs), rows)


def _count(store, *where) -> int:
    with store.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(runs).where(*where)).scalar()


def test_a_read_does_not_wait_for_reaping_and_every_orphan_ends_killed(tmp_path):
    db = tmp_path / "orphans.db"
    forget_stores()
    client = nt.TrackingClient(f"sqlite:///{db}")
    store = client.store
    live = client.create_run("0")
    _orphan_runs(store, ORPHANS)
    commits = []
    event.listen(store.writer, "commit", lambda conn: commits.append(1))

    # Another process holds the write lock: the reaper must wait for it, a read must not.
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        got = client.get_run(live.info.run_id)
        assert got.info.status == "RUNNING"
        assert store._reaper.running()
        assert _count(store, runs.c.status == "KILLED") == 0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    store.wait_for_reaper(timeout=120)
    assert not store._reaper.running()
    assert _count(store, runs.c.status == "KILLED") == ORPHANS
    assert client.get_run(live.info.run_id).info.status == "RUNNING"
    # One short transaction per batch, so a writer elsewhere waits for one batch at most.
    assert len(commits) >= ORPHANS // REAP_BATCH
    with store.reader.connect() as conn:
        reasons = conn.execute(
            select(func.count())
            .select_from(tags)
            .where(tags.c.key == "notebook_tracker.killed_reason")
        ).scalar()
    assert reasons == ORPHANS
    orphan = client.get_run(f"{7:032x}")
    assert orphan.info.end_time == 2007  # its last heartbeat, not the time of reaping


def test_a_run_that_ended_during_the_scan_is_not_marked_killed(tmp_path):
    forget_stores()
    client = nt.TrackingClient(f"sqlite:///{tmp_path / 'race.db'}")
    store = client.store
    _orphan_runs(store, 3)
    finished = f"{1:032x}"
    # The scan saw it RUNNING; its owner ended it before the batch was written.
    client.set_terminated(finished, "FINISHED", end_time=5)
    assert sorted(store._kill([(f"{i:032x}", 2000 + i) for i in range(3)])) == [
        f"{0:032x}",
        f"{2:032x}",
    ]
    run = client.get_run(finished)
    assert run.info.status == "FINISHED"
    assert "notebook_tracker.killed_reason" not in run.data.tags

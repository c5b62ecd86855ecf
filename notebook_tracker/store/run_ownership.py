"""Runs with no local owner process: those a client creates through a tracking server.

The SQL store records the creating process as a RUNNING run's owner and marks the run KILLED
when that process is gone or stops heart-beating. Behind a server the creator is a server
worker, which neither owns the run nor heart-beats for it: an MLflow client training for an
hour would see its run killed. Clearing the owner leaves such runs to their client, which ends
them (as MLflow does).
"""

from __future__ import annotations

from sqlalchemy import Engine, update

from notebook_tracker.store.schema import runs as runs_t


def disown(writer: Engine, run_id: str) -> None:
    with writer.begin() as conn:
        conn.execute(
            update(runs_t)
            .where(runs_t.c.run_uuid == run_id)
            .values(owner_host=None, owner_pid=None, owner_started=None, heartbeat_time=None)
        )

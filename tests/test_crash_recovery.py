"""A process killed mid-run keeps what it flushed, and its run ends up KILLED, not RUNNING."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import notebook_tracker as nt
from notebook_tracker.store import forget_stores

VICTIM = textwrap.dedent(
    """
    import sys, time
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[1])
    run = nt.start_run()
    for step in range(500):
        nt.log_metric("m", float(step), step=step)
    nt.flush()
    print(run.info.run_id, flush=True)
    step = 500
    while True:  # keeps logging until killed
        nt.log_metric("m", float(step), step=step)
        step += 1
        time.sleep(0.0005)
    """
)


def test_sigkill_keeps_flushed_points_and_marks_the_run_killed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'crash.db'}"
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, uri], stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    time.sleep(1.5)  # let the flusher write a few more batches
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    forget_stores()
    client = nt.TrackingClient(uri)
    assert client.store.reap_dead_runs() == [run_id]
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None
    steps = [p.step for p in client.get_metric_history(run_id, "m")]
    assert steps[:500] == list(range(500))  # everything flushed before the kill is there
    assert steps == list(range(len(steps)))  # no holes


def test_a_live_owner_keeps_its_run_running(tmp_path):
    uri = f"sqlite:///{tmp_path / 'alive.db'}"
    client = nt.TrackingClient(uri)
    run = client.create_run("0")
    assert client.store.reap_dead_runs() == []
    assert client.get_run(run.info.run_id).info.status == "RUNNING"


def test_a_silent_owner_past_the_heartbeat_timeout_is_killed(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'silent.db'}"
    forget_stores()
    client = nt.TrackingClient(uri)
    run = client.create_run("0")
    from sqlalchemy import update

    from notebook_tracker.store.schema import runs

    with client.store.writer.begin() as conn:  # as if owned by a machine that went quiet
        conn.execute(update(runs).values(owner_host="elsewhere", heartbeat_time=1))
    assert client.store.reap_dead_runs() == [run.info.run_id]
    assert client.get_run(run.info.run_id).info.status == "KILLED"


def test_runs_created_through_a_server_are_left_to_their_client(tmp_path, monkeypatch):
    """A server worker neither owns nor heartbeats the runs remote clients create through it:
    a long training run must not be marked KILLED when the worker is replaced or goes quiet."""
    from standalone_server import running_server

    uri = f"sqlite:///{tmp_path / 'served.db'}"
    with running_server(tmp_path, uri, workers=1) as server:
        status, body = server.json("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "0"})
        assert status == 200
        run_id = body["run"]["info"]["run_id"]
        status, _ = server.json(
            "POST", "/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "RUNNING"}
        )
        assert status == 200
    # The server is gone now; with a zero heartbeat timeout any owned run would be reaped.
    monkeypatch.setenv("NOTEBOOK_TRACKER_HEARTBEAT_TIMEOUT", "0")
    forget_stores()
    client = nt.TrackingClient(uri)
    assert client.store.reap_dead_runs() == []
    assert client.get_run(run_id).info.status == "RUNNING"

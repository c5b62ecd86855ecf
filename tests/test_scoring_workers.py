"""Model workers: started and ready on return, restarted when they crash, stopped when idle or
asked, and never outliving the process that manages them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import wait_until

import notebook_tracker.models as ntm
from notebook_tracker.errors import WorkerStartError
from notebook_tracker.models.workers import READY, WorkerManager

BODY = json.dumps({"dataframe_records": [{"x": 2.0}]}).encode()


def triple(frame):
    return frame["x"].to_numpy() * 3


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import cloudpickle
    import pandas as pd

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    path = tmp_path_factory.mktemp("workers") / "model"
    ntm.save_model(triple, path, input_example=pd.DataFrame({"x": [1.0]}))
    return path


@pytest.fixture
def manager(tmp_path):
    m = WorkerManager(log_dir=tmp_path / "logs", startup_timeout=120)
    yield m
    m.close()


def predict(url: str) -> list:
    req = urllib.request.Request(url + "/invocations", BODY, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["predictions"]


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def test_a_started_worker_answers_at_once_and_stops_on_request(manager, model_dir):
    worker = manager.start("triple", str(model_dir))
    assert worker.state == READY and worker.port > 0
    assert predict(worker.url) == [6.0]
    assert [w.name for w in manager.list()] == ["triple"]
    manager.stop("triple")
    wait_until(lambda: gone(worker.pid), 10, what="worker exit")
    assert manager.list() == []


def test_a_crashed_worker_is_restarted_on_the_same_port(manager, model_dir):
    worker = manager.start("triple", str(model_dir))
    old_pid, port = worker.pid, worker.port
    os.killpg(old_pid, signal.SIGKILL)
    wait_until(lambda: not worker.alive(), 10, what="worker death")
    revived = manager.ensure("triple")
    assert revived.pid != old_pid and revived.port == port and revived.restarts == 1
    assert predict(revived.url) == [6.0]


def test_the_monitor_restarts_a_dead_worker_without_a_request(manager, model_dir):
    worker = manager.start("triple", str(model_dir))
    manager.start_monitor(interval=0.2)
    old_pid = worker.pid
    os.killpg(old_pid, signal.SIGKILL)
    wait_until(lambda: worker.pid != old_pid and worker.state == READY, 120, what="restart")
    assert predict(worker.url) == [6.0]


def test_an_idle_worker_is_stopped(tmp_path, model_dir):
    manager = WorkerManager(log_dir=tmp_path, idle_timeout=0.5)
    try:
        worker = manager.start("triple", str(model_dir))
        time.sleep(0.6)
        manager.check()
        assert manager.list() == []
        wait_until(lambda: gone(worker.pid), 10, what="idle worker exit")
    finally:
        manager.close()


def test_a_worker_that_cannot_start_reports_its_log(manager, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "MLmodel").write_text("flavors:\n  other: {}\n")
    with pytest.raises(WorkerStartError, match="no python_function flavor"):
        manager.start("broken", str(broken), model_dir=broken)
    assert manager.get("broken") is None


def test_a_port_already_in_use_is_a_clear_error(manager, model_dir):
    first = manager.start("a", str(model_dir))
    with pytest.raises(WorkerStartError, match="Address already in use"):
        manager.start("b", str(model_dir), port=first.port)
    assert manager.get("a").state == READY and predict(first.url) == [6.0]


def test_workers_end_when_the_managing_process_is_killed(tmp_path, model_dir):
    script = textwrap.dedent(
        f"""
        import sys, time
        from notebook_tracker.models.workers import WorkerManager
        m = WorkerManager(log_dir={str(tmp_path)!r})
        w = m.start("triple", {str(model_dir)!r}, workers=2)
        print(w.pid, w.port, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid, port = map(int, parent.stdout.readline().split())
        assert predict(f"http://127.0.0.1:{port}") == [6.0]
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        parent.send_signal(signal.SIGKILL)  # no cleanup can run: only the OS can help
        parent.wait()
        wait_until(lambda: gone(pid), 15, what="server exit after its parent died")
        for child in map(int, children):
            wait_until(lambda c=child: gone(c), 15, what="forked worker exit")
    finally:
        if parent.poll() is None:
            parent.kill()

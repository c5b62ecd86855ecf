"""Logging over http:// loses no point silently: outages are journaled and replayed in order.

Every test runs a real `notebook-tracker server` process on a loopback port with a SQLite store,
killed (SIGKILL) and restarted on the same port and store to make an outage.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, port_is_open, wait_until

import notebook_tracker as nt
from notebook_tracker import env
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType
from notebook_tracker.errors import JournalFull, MetricsRefused, MetricsUndelivered
from notebook_tracker.store import forget_stores
from notebook_tracker.store.journal import DATA, END, SUFFIX, Journal


class KillableServer:
    """A standalone server that can be SIGKILLed and started again on the same port and store."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.tmp_path / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "notebook_tracker.cli", "server",
                "--backend-store-uri", f"sqlite:///{self.tmp_path / 'server' / 'tracker.db'}",
                "--artifacts-destination", str(self.tmp_path / "server" / "artifacts"),
                "--port", str(self.port), "--workers", "1",
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")},
            start_new_session=True,
        )  # fmt: skip
        log.close()
        proc = self.proc
        wait_until(
            lambda: proc.poll() is not None or _answers(self.url),
            timeout=60,
            what=f"server on port {self.port}",
        )
        assert proc.poll() is None, (self.tmp_path / f"server-{self.starts}.log").read_text()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        wait_until(lambda: not port_is_open("127.0.0.1", self.port), what="port closed")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/health", timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KillableServer]:
    running = KillableServer(tmp_path)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def remote(server: KillableServer, tracking_uri: str, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """This process logs to `server`, with its journal under tmp_path/journal."""
    monkeypatch.setenv(env.TRACKING_URI, server.url)
    monkeypatch.setenv(env.JOURNAL_DIR, str(tmp_path / "journal"))
    monkeypatch.setenv(env.FLUSH_INTERVAL, "0.2")
    monkeypatch.delenv(env.TRACKING_TOKEN, raising=False)
    yield server.url
    forget_stores()


def _journal_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "journal").rglob("*" + SUFFIX))


def _steps(url: str, run_id: str, key: str) -> list[int]:
    return [m.step for m in TrackingClient(url).get_metric_history(run_id, key)]


@pytest.mark.slow
def test_points_logged_through_a_10s_outage_all_arrive_in_order(remote, server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="notebook_tracker")
    n = 20_000
    outage_s = 10.0
    restarted = threading.Event()

    def outage() -> None:
        server.kill()
        time.sleep(outage_s)
        server.start()
        restarted.set()

    with nt.start_run() as run:
        for i in range(n):
            nt.log_metric("loss", 1.0 / (i + 1), step=i)
            if i == 3000:
                nt.flush()
                threading.Thread(target=outage, daemon=True).start()
                time.sleep(1.0)
            if i % 1000 == 999:
                time.sleep(0.6)  # 20,000 points over about 13 s: most of them during the outage
            if i == 6000:
                # Still down: flush says so, and names the file that holds the points.
                assert not restarted.is_set()
                with pytest.raises(MetricsUndelivered) as info:
                    nt.flush()
                files = _journal_files(tmp_path)
                assert files and str(files[0]) in str(info.value)
                assert files[0].stat().st_size > 0
        assert restarted.wait(30)
    assert any("kept on disk" in r.getMessage() for r in caplog.records)

    steps = _steps(remote, run.info.run_id, "loss")
    assert len(steps) == n
    assert steps == list(range(n))
    got = TrackingClient(remote).get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.metrics["loss"] == pytest.approx(1.0 / n)
    # Everything delivered: no journal is left behind with points in it.
    assert all(p.stat().st_size == 0 for p in _journal_files(tmp_path))


@pytest.mark.slow
def test_points_logged_while_the_server_is_frozen_for_10s_all_arrive_in_order(remote, server):
    n = 20_000
    with nt.start_run() as run:
        for i in range(n):
            nt.log_metric("loss", float(i), step=i)
            if i == 3000:
                nt.flush()
                os.killpg(server.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
                thaw = threading.Timer(10.0, os.killpg, (server.proc.pid, signal.SIGCONT))  # type: ignore[union-attr]
                thaw.start()
            if i % 1000 == 999:
                time.sleep(0.6)
        thaw.join()
    assert _steps(remote, run.info.run_id, "loss") == list(range(n))
    assert TrackingClient(remote).get_run(run.info.run_id).info.status == "FINISHED"


CLIENT = textwrap.dedent(
    """
    import sys, time
    import notebook_tracker as nt
    from notebook_tracker.errors import MetricsUndelivered

    run = nt.start_run()
    for i in range(3000):
        nt.log_metric("acc", i / 10000, step=i)
    nt.flush()
    print(run.info.run_id, flush=True)
    sys.stdin.readline()  # the server is killed now
    for i in range(3000, 10000):
        nt.log_metric("acc", i / 10000, step=i)
    try:
        nt.flush()
    except MetricsUndelivered as error:
        print("KEPT", error, flush=True)
    time.sleep(600)  # SIGKILLed here, mid-outage
    """
)


@pytest.mark.slow
def test_a_client_killed_mid_outage_is_replayed_by_the_next_process(remote, server, tmp_path):
    environment = {**os.environ, env.FLUSH_INTERVAL: "0.2"}
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    try:
        run_id = client.stdout.readline().strip()  # type: ignore[union-attr]
        assert len(run_id) == 32, client.stderr.read()  # type: ignore[union-attr]
        server.kill()
        client.stdin.write("\n")  # type: ignore[union-attr]
        client.stdin.flush()  # type: ignore[union-attr]
        kept = client.stdout.readline()  # type: ignore[union-attr]
        assert kept.startswith("KEPT") and "7000 metric points" in kept, kept
    finally:
        client.kill()
        client.wait()
    (orphan,) = _journal_files(tmp_path)
    assert str(orphan) in kept
    # A kill in the middle of a write leaves a torn record: it is detected and skipped.
    with orphan.open("ab") as f:
        f.write(b"NTJ1\x01\xff\x00\x00\x00garbage")

    server.start()
    with nt.start_run():  # any later process logging to this server replays what was left
        nt.log_metric("other", 1.0)
    assert _steps(remote, run_id, "acc") == list(range(10000))
    assert not orphan.exists()


@pytest.mark.slow
def test_a_deleted_run_drops_its_points_with_a_warning_and_flush_raises(remote, caplog):
    caplog.set_level(logging.WARNING, logger="notebook_tracker")
    run = nt.start_run()
    for i in range(10):
        nt.log_metric("m", float(i), step=i)
    nt.flush()
    TrackingClient(remote).delete_run(run.info.run_id)
    for i in range(2500):
        nt.log_metric("m", float(i), step=10 + i)
    with pytest.raises(MetricsRefused) as info:
        nt.flush()
    assert "2500 metric points" in str(info.value) or "1000 metric points" in str(info.value)
    assert "deleted" in str(info.value) and run.info.run_id in str(info.value)
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert sum(int(m.split(" refused ")[1].split()[0]) for m in dropped) == 2500

    # end_run still ends the run, and raises for the points it could not deliver.
    nt.log_metric("m", 99.0, step=9999)
    with pytest.raises(MetricsRefused, match="1 metric points"):
        nt.end_run()
    assert nt.active_run() is None
    client = TrackingClient(remote)
    (found,) = client.search_runs(["0"], run_view_type=ViewType.DELETED_ONLY)
    assert found.info.status == "FINISHED" and found.info.end_time
    assert _steps(remote, run.info.run_id, "m") == list(range(10))


@pytest.mark.slow
def test_a_full_journal_stops_log_metric_and_what_was_kept_still_arrives(
    remote, server, tmp_path, monkeypatch
):
    monkeypatch.setenv(env.JOURNAL_MAX_BYTES, "100000")  # about 1,400 points
    monkeypatch.setenv(env.MAX_BUFFERED_POINTS, "2000")
    run = nt.start_run()
    nt.flush()
    server.kill()
    logged = 0
    with pytest.raises(MetricsUndelivered) as info:
        for i in range(100_000):
            nt.log_metric("x", float(i), step=i)
            logged += 1
    message = str(info.value)
    assert remote in message and env.JOURNAL_MAX_BYTES in message
    assert "This point was not logged" in message
    assert 2000 <= logged < 100_000

    server.start()
    nt.end_run()
    assert _steps(remote, run.info.run_id, "x") == list(range(logged))
    with nt.start_run() as after:  # logging works again once the backlog is delivered
        nt.log_metric("y", 1.0)
        nt.flush()
    assert _steps(remote, after.info.run_id, "y") == [0]


@pytest.mark.slow
def test_an_unwritable_journal_folder_keeps_points_in_memory_and_says_which_setting(
    remote, server, tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal folder should be")
    monkeypatch.setenv(env.JOURNAL_DIR, str(blocker / "journal"))
    monkeypatch.setenv(env.MAX_BUFFERED_POINTS, "3000")
    run = nt.start_run()
    nt.flush()
    server.kill()
    logged = 0
    with pytest.raises(MetricsUndelivered) as info:
        for i in range(100_000):
            nt.log_metric("x", float(i), step=i)
            logged += 1
    assert env.JOURNAL_DIR in str(info.value) and str(blocker) in str(info.value)
    server.start()
    nt.end_run()
    assert _steps(remote, run.info.run_id, "x") == list(range(logged))


# -- the journal file itself --------------------------------------------------------------------


def test_an_adopted_journal_resumes_after_what_was_delivered(tmp_path, monkeypatch):
    monkeypatch.setenv(env.JOURNAL_DIR, str(tmp_path))
    journal = Journal.create("http://srv:1")
    journal.append([(DATA, b"r\n1\none"), (DATA, b"r\n1\ntwo"), (END, b"{}")], 1 << 20)
    first = next(journal.pending())
    journal.ack(first.end)
    # Another process can take it only once this one is gone (its lock is released).
    assert Journal.adopt_orphans("http://srv:1") == []
    os.close(journal._fd)  # what a SIGKILL does: no close(), no cleanup

    (adopted,) = Journal.adopt_orphans("http://srv:1")
    assert [e.payload for e in adopted.pending()] == [b"r\n1\ntwo", b"{}"]
    for entry in adopted.pending():
        adopted.ack(entry.end)
    assert not adopted.has_pending and adopted.path.stat().st_size == 0
    adopted.close()
    assert not adopted.path.exists()


def test_a_torn_record_is_skipped_and_cut_before_the_next_append(tmp_path, monkeypatch):
    monkeypatch.setenv(env.JOURNAL_DIR, str(tmp_path))
    journal = Journal.create("http://srv:2")
    journal.append([(DATA, b"r\n1\nwhole")], 1 << 20)
    os.close(journal._fd)
    with journal.path.open("ab") as f:  # a write cut short by a kill: header, half a payload
        f.write(b"NTJ1\x01\x10\x00\x00\x00\x00\x00\x00\x00half")

    (adopted,) = Journal.adopt_orphans("http://srv:2")
    assert adopted.torn_bytes == 17
    assert [e.payload for e in adopted.pending()] == [b"r\n1\nwhole"]
    adopted.append([(DATA, b"r\n1\nafter")], 1 << 20)
    assert [e.payload for e in adopted.pending()] == [b"r\n1\nwhole", b"r\n1\nafter"]
    # A record whose bytes were damaged fails its checksum: reading stops before it.
    raw = bytearray(adopted.path.read_bytes())
    raw[-1] ^= 0xFF
    adopted.path.write_bytes(bytes(raw))
    assert [e.payload for e in adopted.pending()] == [b"r\n1\nwhole"]


def test_a_full_journal_refuses_more_and_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(env.JOURNAL_DIR, str(tmp_path))
    journal = Journal.create("http://srv:3")
    journal.append([(DATA, b"x" * 100)], 200)
    with pytest.raises(JournalFull, match=env.JOURNAL_MAX_BYTES):
        journal.append([(DATA, b"x" * 100)], 200)


FORKING = textwrap.dedent(
    """
    import os, time
    from notebook_tracker import metric_buffer
    from notebook_tracker.store.journal import DATA
    from notebook_tracker.store.rest import RestStore

    buf = metric_buffer.buffer_for(RestStore("http://127.0.0.1:9"), lambda: [])
    buf.sink._keep([(DATA, b"r\\n1\\n{}")])  # an outage began: this process has a journal
    if os.fork() == 0:
        # Said by the child: its fork hooks have run by now, however late it was scheduled.
        print("ready", flush=True)
        time.sleep(60)  # a forked worker that outlives its parent
        os._exit(0)
    time.sleep(60)
    """
)


def test_a_forked_child_does_not_keep_its_dead_parents_journal_from_adoption(tmp_path, monkeypatch):
    monkeypatch.setenv(env.JOURNAL_DIR, str(tmp_path))
    parent = subprocess.Popen([sys.executable, "-c", FORKING], stdout=subprocess.PIPE, text=True)
    children: list[str] = []
    try:
        assert parent.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        assert len(children) == 1
        parent.kill()
        parent.wait()
        os.kill(int(children[0]), 0)  # the forked child still runs, holding a copy of the file
        (adopted,) = Journal.adopt_orphans("http://127.0.0.1:9")
        assert adopted.has_pending
        adopted.close(remove_if_empty=False)
    finally:
        parent.kill()
        for pid in children:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _post(url: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_plain_batches_take_the_fast_path_and_odd_ones_are_still_checked(server):
    api = "/api/2.0/mlflow/"
    status, created = _post(server.url, api + "runs/create", {"experiment_id": "0"})
    assert status == 200
    run_id = created["run"]["info"]["run_id"]

    def batch(*items: dict) -> tuple[int, dict]:
        return _post(server.url, api + "runs/log-batch", {"run_id": run_id, "metrics": list(items)})

    point = {"key": "m", "value": 0.5, "timestamp": 1, "step": 0}
    assert batch(point)[0] == 200  # the first sight of a key validates it
    assert batch({**point, "step": 1}, {**point, "value": 1.5, "step": 2})[0] == 200
    # Anything off the plain shape is read by the careful path, with its spellings and errors.
    assert batch({**point, "value": "NaN", "step": 3}, {**point, "value": 2, "step": 4})[0] == 200
    status, error = batch({**point, "timestamp": 2**63, "step": 5})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    status, error = batch({**point, "key": "../up", "step": 6})
    assert status == 400 and "name" in error["message"]
    history = TrackingClient(server.url).get_metric_history(run_id, "m")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history][:3] == [0.5, 0.5, 1.5] and history[4].value == 2.0

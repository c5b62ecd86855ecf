"""A server readies its SQLite store's WAL before its synchronous commits (store/sqlite_wal.py):
the file reaches its working size at once, and nothing logged through it is lost or misread."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from server_helpers import ThreadServer

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import RunTag
from notebook_tracker.server.standalone import make_app, make_context
from notebook_tracker.store import sqlite_wal
from notebook_tracker.store.sql import SqlStore


def _store(tmp_path: Path) -> tuple[SqlStore, str]:
    store = SqlStore(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "art"))
    exp = store.create_experiment("wal")
    run = store.create_run(exp, user_id="u", start_time=0, tags=[], run_name="r")
    return store, run.info.run_id


def _wal_frames(path: Path) -> int:
    return (os.path.getsize(path) - sqlite_wal.WAL_HEADER) // (4096 + sqlite_wal.FRAME_HEADER)


def test_the_wal_is_given_its_working_size_once(tmp_path: Path) -> None:
    store, run_id = _store(tmp_path)
    wal = tmp_path / "t.db-wal"
    before = os.path.getsize(wal)
    written = sqlite_wal.presize(store.writer)
    assert written > 0
    assert os.path.getsize(wal) == before + written
    assert _wal_frames(wal) >= 1000  # SQLite's automatic checkpoint comes at 1,000 pages
    assert sqlite_wal.presize(store.writer) == 0  # the second time there is nothing to do
    for i in range(300):  # commits now overwrite the file in place: it does not grow
        store.log_params_tags(run_id, tags=[RunTag("t", str(i))])
    assert os.path.getsize(wal) == before + written
    assert store.get_run(run_id).data.tags["t"] == "299"


def test_commits_through_a_presized_wal_survive_a_killed_process(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from notebook_tracker.entities import Param, RunTag
        from notebook_tracker.store import sqlite_wal
        from notebook_tracker.store.sql import SqlStore
        store = SqlStore({f"sqlite:///{tmp_path / 't.db'}"!r}, {str(tmp_path / "art")!r})
        run_id = store.create_run(
            store.create_experiment("wal"), user_id="u", start_time=0, tags=[], run_name="r"
        ).info.run_id
        assert sqlite_wal.presize(store.writer) > 0
        for i in range(120):
            store.log_params_tags(run_id, params=[Param(f"p{{i}}", str(i))])
            store.log_params_tags(run_id, tags=[RunTag("t", str(i))])
            store.log_metric_groups([(run_id, "loss", 1.0 / (i + 1), 1000 + i, i)])
        print(run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no checkpoint, no close: the WAL stays
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run_id = proc.stdout.strip()
    assert os.path.getsize(tmp_path / "t.db-wal") > 1000 * 4096  # recovered from this file

    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    run = SqlStore(f"sqlite:///{tmp_path / 't.db'}", str(tmp_path / "art")).get_run(run_id)
    assert run.data.params == {f"p{i}": str(i) for i in range(120)}
    assert run.data.tags["t"] == "119"
    assert run.data.metrics["loss"] == 1.0 / 120


def test_a_read_only_store_is_left_as_it_is(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    del store
    readonly = SqlStore(f"sqlite:///file:{tmp_path / 't.db'}?mode=ro&uri=true", str(tmp_path))
    assert sqlite_wal.presize(readonly.writer) == 0


def test_setting_a_tag_again_rewrites_its_row_only(tmp_path: Path) -> None:
    store, run_id = _store(tmp_path)
    store.log_params_tags(run_id, tags=[RunTag("t", "first")])
    wal = tmp_path / "t.db-wal"
    before = _wal_frames(wal)
    for i in range(20):
        store.log_params_tags(run_id, tags=[RunTag("t", str(i))])
    # each commit writes the page of the tags table (stored in (run, key) order, migration
    # 0009) that holds the row: one frame, where a delete and insert wrote every b-tree of a
    # rowid table and its indexes
    assert _wal_frames(wal) - before == 20
    store.log_params_tags(run_id, tags=[RunTag("t", "19")])  # its own value: nothing to write
    assert _wal_frames(wal) - before == 20
    assert store.get_run(run_id).data.tags["t"] == "19"


def test_a_server_readies_its_stores_wal_at_its_first_synchronous_call(tmp_path: Path) -> None:
    context = make_context(f"sqlite:///{tmp_path / 't.db'}", None)
    running = ThreadServer(make_app(context))
    try:
        client = TrackingClient(running.url)
        run_id = client.create_run(client.create_experiment("wal")).info.run_id
        grown = _wal_frames(tmp_path / "t.db-wal")
        client.set_tag(run_id, "t", "v")
        assert grown < 200 and _wal_frames(tmp_path / "t.db-wal") >= 1000
        assert client.get_run(run_id).data.tags["t"] == "v"
    finally:
        running.stop()
        context.close()


def test_a_disk_full_while_presizing_leaves_the_store_writable(tmp_path: Path, monkeypatch) -> None:
    store, run_id = _store(tmp_path)
    store.log_params_tags(run_id, tags=[RunTag("before", "1")])
    real_pwrite = os.pwrite
    written: list[int] = []

    def pwrite_until_full(fd: int, data: bytes, offset: int) -> int:
        if written:  # the first chunk lands, then the disk is full
            raise OSError(28, "No space left on device")
        written.append(len(data))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(sqlite_wal.os, "pwrite", pwrite_until_full)
    wal = tmp_path / "t.db-wal"
    size = os.path.getsize(wal)
    assert sqlite_wal.presize(store.writer) == 0
    assert written and os.path.getsize(wal) == size  # what it took is given back
    monkeypatch.setattr(sqlite_wal.os, "pwrite", real_pwrite)
    for i in range(50):
        store.log_params_tags(run_id, tags=[RunTag("t", str(i))])
    tags = store.get_run(run_id).data.tags
    assert tags["before"] == "1" and tags["t"] == "49"


def test_a_nearly_full_disk_keeps_its_space_for_the_stores_commits(
    tmp_path: Path, monkeypatch
) -> None:
    store, _ = _store(tmp_path)
    wal = tmp_path / "t.db-wal"
    size = os.path.getsize(wal)
    real = os.statvfs(tmp_path)

    class AlmostFull:
        f_frsize = real.f_frsize
        f_bavail = 8 * 1024 * 1024 // real.f_frsize  # 8 MiB: under 16 times the 4 MiB to add

    monkeypatch.setattr(sqlite_wal.os, "statvfs", lambda path: AlmostFull)
    assert sqlite_wal.presize(store.writer) == 0
    assert os.path.getsize(wal) == size

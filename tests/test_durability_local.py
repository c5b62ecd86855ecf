"""A SQLite store on a full or read-only disk: a one-line error naming the database, early.

Each scenario runs in a subprocess (a failing store's flusher must not outlive the test). A full
disk is a tiny tmpfs when this user may mount one (root), and a file-size rlimit otherwise; a
read-only disk is that tmpfs remounted read-only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import require_service

import notebook_tracker as nt
from notebook_tracker import env

LOG_UNTIL_REFUSED = textwrap.dedent(
    """
    import json, os, resource, sys, time
    limit = int(sys.argv[2])
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    import notebook_tracker as nt
    from notebook_tracker.errors import TrackerError

    nt.set_tracking_uri(sys.argv[1])
    out = {"logged": 0}
    run = nt.start_run()
    try:
        for i in range(50_000_000):
            nt.log_metric("loss", i * 0.5, step=i)
            out["logged"] += 1
    except TrackerError as error:
        out["log_metric_error"] = str(error)
    try:
        nt.flush()
    except TrackerError as error:
        out["flush_error"] = str(error)
    ballast = sys.argv[3]
    if ballast:
        os.remove(ballast)  # room again: the points kept in memory are written now
        nt.end_run()
        out["stored"] = len(nt.get_metric_history(run.info.run_id, "loss"))
        out["status"] = nt.get_run(run.info.run_id).info.status
    print(json.dumps(out))
    """
)


def _run(script: str, *args: str, extra_env: dict[str, str] | None = None) -> tuple[dict, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    environment.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted at tmp_path/disk (needs root), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    tried = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if tried.returncode != 0:
        require_service(f"cannot mount a tmpfs to fill (needs root): {tried.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _assert_one_line_naming(message: str, path: Path) -> None:
    assert str(path) in message
    assert "\n" not in message
    assert "INSERT" not in message and "[SQL" not in message


@pytest.mark.slow
def test_a_full_disk_stops_log_metric_with_the_database_path_and_keeps_the_points(tiny_disk):
    database = tiny_disk / "tracker.db"
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"\0" * (5 << 20))  # the store gets the other 3 MiB
    out, stderr = _run(
        LOG_UNTIL_REFUSED,
        f"sqlite:///{database}",
        "0",
        str(ballast),
        extra_env={env.MAX_BUFFERED_POINTS: "5000"},
    )
    error = out["log_metric_error"]
    _assert_one_line_naming(error, database)
    assert "full disk" in error and "This point was not logged" in error
    assert "metric points are waiting in memory" in out["flush_error"]
    # The flusher said it in one line (again only after a write went through between two
    # failures), never with a traceback from its thread.
    assert "Traceback" not in stderr
    assert 1 <= stderr.count("could not write metrics yet") <= 3
    # Once there was room again, every point logged before the error was written.
    assert out["stored"] == out["logged"]
    assert out["status"] == "FINISHED"


@pytest.mark.slow
def test_a_file_size_limit_stops_log_metric_with_the_database_path(tmp_path):
    database = tmp_path / "store" / "tracker.db"
    out, stderr = _run(LOG_UNTIL_REFUSED, f"sqlite:///{database}", str(2 << 20), "")
    _assert_one_line_naming(out["log_metric_error"], database)
    _assert_one_line_naming(out["flush_error"], database)
    assert "Traceback" not in stderr
    # Exiting with points that could never be written says so, with their number.
    assert "metric points could not be written to sqlite:///" in stderr
    assert "are lost with this process" in stderr


CREATE_RUN = textwrap.dedent(
    """
    import json, sys
    import notebook_tracker as nt
    from notebook_tracker.errors import TrackerError

    nt.set_tracking_uri(sys.argv[1])
    try:
        with nt.start_run():
            nt.log_metric("m", 1.0)
        print(json.dumps({"ok": True}))
    except TrackerError as error:
        print(json.dumps({"error": str(error), "type": type(error).__name__}))
    """
)


def test_a_read_only_disk_is_a_one_line_error_at_the_first_write(tiny_disk):
    database = tiny_disk / "tracker.db"
    assert _run(CREATE_RUN, f"sqlite:///{database}")[0] == {"ok": True}
    remount = subprocess.run(
        ["mount", "-o", "remount,ro", str(tiny_disk)], capture_output=True, text=True
    )
    assert remount.returncode == 0, remount.stderr
    out, stderr = _run(CREATE_RUN, f"sqlite:///{database}")
    _assert_one_line_naming(out["error"], database)
    assert "read-only" in out["error"] or "cannot be opened" in out["error"]
    assert "Traceback" not in stderr


def test_a_store_slower_than_the_loop_slows_it_down_and_loses_nothing(tracking_uri, monkeypatch):
    monkeypatch.setenv(env.MAX_BUFFERED_POINTS, "1000")
    monkeypatch.setenv(env.FLUSH_INTERVAL, "3600")  # the flusher never runs: only the bound
    with nt.start_run() as run:
        buffer = run.buffer
        most = 0
        for i in range(5000):
            nt.log_metric("x", float(i), step=i)
            most = max(most, len(buffer.rows))
    assert most <= 1000
    steps = [m.step for m in nt.get_metric_history(run.info.run_id, "x")]
    assert steps == list(range(5000))


@pytest.mark.parametrize("bad", ["abc", "0", "-5"])
def test_a_bad_buffer_bound_names_the_setting(tracking_uri, monkeypatch, bad):
    from notebook_tracker.errors import InvalidParameter
    from notebook_tracker.metric_buffer import max_points

    monkeypatch.setenv(env.MAX_BUFFERED_POINTS, bad)
    with pytest.raises(InvalidParameter, match=env.MAX_BUFFERED_POINTS):
        max_points()
    monkeypatch.setenv(env.MAX_BUFFERED_POINTS, "250_000")
    assert max_points() == 250_000

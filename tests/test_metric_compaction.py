"""Histories stay compact however they were written, and read back exactly the points logged.

Synchronous logging commits one point per write; compaction merges the small chunks this
leaves, while writing and on read. These tests hold it to: the same points in the same order
(step, then timestamp, then write order; duplicates, NaN and infinities kept), nothing lost or
doubled when compaction races writers in other processes, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import chunk_count

from notebook_tracker.entities import MetricHistory
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.store import sql_statements as q
from notebook_tracker.store.metric_chunks import pack_rows
from notebook_tracker.store.metric_compaction import full_groups, tail_size
from notebook_tracker.store.sql import SqlStore


@pytest.fixture(autouse=True)
def _fast_sqlite_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    # One fsync per point makes a thousand-point test take seconds on a slow disk; what is
    # tested here does not depend on durability.
    monkeypatch.setenv("NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS", "NORMAL")


def _awkward_points(n: int) -> list[tuple[float, int, int]]:
    """(value, timestamp, step): steps out of order, repeated (step, timestamp) pairs with
    different and with equal values, NaN and both infinities."""
    specials = [math.nan, math.inf, -math.inf, 0.0, -0.0]
    points = []
    for i in range(n):
        step = (i * 7919) % (n // 3)  # each step about three times, out of order
        timestamp = 1_000 + (i % 5)  # ties of (step, timestamp) happen
        value = specials[i % 5] if i % 11 == 0 else float(i)
        points.append((value, timestamp, step))
    points.append(points[10])  # an exact duplicate
    return points


def _expected(points: list[tuple[float, int, int]]) -> tuple[list[int], list[int], list[float]]:
    order = sorted(range(len(points)), key=lambda i: (points[i][2], points[i][1], i))
    return (
        [points[i][2] for i in order],
        [points[i][1] for i in order],
        [points[i][0] for i in order],
    )


def _assert_history_is(history: MetricHistory, points: list[tuple[float, int, int]]) -> None:
    steps, timestamps, values = _expected(points)
    assert history.steps.tolist() == steps
    assert history.timestamps.tolist() == timestamps
    # Bit for bit: NaN equals NaN, -0.0 differs from 0.0.
    assert np.asarray(values, dtype="<f8").tobytes() == history.values.astype("<f8").tobytes()


def test_tail_plan_merges_sixteen_small_chunks_and_leaves_big_ones() -> None:
    assert tail_size([1] * 15) == 0
    assert tail_size([1] * 16) == 16
    assert tail_size([100_000] + [1] * 20) == 20
    assert tail_size([16] * 15 + [1] * 3) == 18  # tier <= 1 reaches sixteen
    assert tail_size([5000] * 40) == 0  # top tier: never merged again while writing


def test_full_plan_groups_contiguous_small_chunks_only() -> None:
    assert full_groups([1, 1, 1, 5000, 1, 1]) == [(0, 3), (4, 6)]
    assert full_groups([1, 5000, 1]) == []
    groups = full_groups([4000] * 200)
    assert all(sum([4000] * (end - start)) <= 262_144 for start, end in groups)
    assert sum(end - start for start, end in groups) == 200


def test_history_written_one_point_per_commit_stays_compact_and_exact(store_uri: str) -> None:
    store = SqlStore(store_uri)
    run_id = store.create_run("0", "tester", 0).info.run_id
    points = _awkward_points(1500)
    for value, timestamp, step in points:
        store.log_metric_rows([(run_id, "loss", value, timestamp, step)])  # a synchronous write
    assert chunk_count(store, run_id, "loss") < 100
    _assert_history_is(store.get_metric_history(run_id, "loss"), points)
    latest = store.get_run(run_id).data.metrics["loss"]
    steps, _, values = _expected(points)
    assert latest == values[-1] or (math.isnan(latest) and math.isnan(values[-1]))
    assert steps[-1] == max(p[2] for p in points)


def test_a_read_that_finds_many_small_chunks_merges_them_without_changing_the_history(
    store_uri: str,
) -> None:
    store = SqlStore(store_uri)
    run_id = store.create_run("0", "tester", 0).info.run_id
    points = _awkward_points(900)
    # One chunk per point, as a store written before compaction existed holds them.
    with store.writer.begin() as conn:
        conn.execute(
            q.INSERT_CHUNKS, [pack_rows([(run_id, "acc", v, t, s)])[0] for v, t, s in points]
        )
    assert chunk_count(store, run_id, "acc") == len(points)
    _assert_history_is(store.get_metric_history(run_id, "acc"), points)
    assert chunk_count(store, run_id, "acc") == 1
    _assert_history_is(store.get_metric_history(run_id, "acc"), points)
    page = store.get_metric_history(run_id, "acc", max_results=100)
    assert page.steps.tolist() == _expected(points)[0][:100]


def test_synchronous_write_to_a_deleted_run_is_refused_and_writes_nothing(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = SqlStore(uri)
    run_id = store.create_run("0", "tester", 0).info.run_id
    store.log_metric_rows([(run_id, "m", 1.0, 1, 0)])
    # Deleted by another process: no cache of this one can know it, the write must.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from notebook_tracker.store.sql import SqlStore; "
            "SqlStore(sys.argv[1]).delete_run(sys.argv[2])",
            uri,
            run_id,
        ],
        check=True,
    )
    with pytest.raises(InvalidParameter, match="deleted; restore it"):
        store.log_metric_rows([(run_id, "m", 2.0, 2, 1)])
    with pytest.raises(NotFound, match="not found"):
        store.log_metric_rows([("0" * 32, "m", 2.0, 2, 1)])
    store.restore_run(run_id)
    assert store.get_metric_history(run_id, "m").values.tolist() == [1.0]
    store.log_metric_rows([(run_id, "m", 3.0, 3, 2)])
    assert store.get_metric_history(run_id, "m").values.tolist() == [1.0, 3.0]


WRITER = textwrap.dedent(
    """
    import os, sys, time
    from notebook_tracker.store.sql import SqlStore
    uri, run_id, parity, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = SqlStore(uri)
    deadline = time.monotonic() + 120
    while not os.path.exists(sys.argv[5]) and time.monotonic() < deadline:
        time.sleep(0.01)  # start together with the compactor, so that they race
    for i in range(n):
        step = 2 * i + parity
        store.log_metric_rows([(run_id, "m", float(step), 1000 + step, step)])
    """
)

COMPACTOR = textwrap.dedent(
    """
    import pathlib, sys
    from notebook_tracker.store.metric_compaction import compact_key
    from notebook_tracker.store.sql import SqlStore
    from notebook_tracker.store.sql_metric_write import sa_execute
    uri, run_id, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SqlStore(uri)
    reads = merges = 0
    while True:
        with store.writer.begin() as conn:
            merges += compact_key(sa_execute(conn), conn.dialect.name, run_id, "m", full=True)
        steps = store.get_metric_history(run_id, "m").steps.tolist()
        reads += 1
        pathlib.Path(sys.argv[4]).touch()
        assert len(steps) == len(set(steps)), "a point read twice"
        for parity in (0, 1):  # each writer commits in order: a read sees a prefix of each
            mine = [s for s in steps if s % 2 == parity]
            assert mine == list(range(parity, 2 * len(mine), 2)), "a point lost or reordered"
        if len(steps) == total:
            break
    print(reads, merges)
    """
)


def test_compaction_racing_two_writer_processes_loses_and_doubles_nothing(
    store_uri: str, tmp_path: Path
) -> None:
    store = SqlStore(store_uri)
    run_id = store.create_run("0", "tester", 0).info.run_id
    n = 400
    ready = tmp_path / "compactor-started"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_uri, run_id, str(p), str(n), str(ready)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in (0, 1)
    ]
    compactor = subprocess.Popen(
        [sys.executable, "-c", COMPACTOR, store_uri, run_id, str(2 * n), str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for writer in writers:
        _, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err[-2000:]
    out, err = compactor.communicate(timeout=240)
    assert compactor.returncode == 0, err[-2000:]
    reads, merges = map(int, out.split())
    assert reads > 1 and merges > 0  # it did race the writers
    history = store.get_metric_history(run_id, "m")
    assert history.steps.tolist() == list(range(2 * n))
    assert history.values.tolist() == [float(s) for s in range(2 * n)]
    assert chunk_count(store, run_id, "m") < 2 * n


def test_log_metric_synchronous_points_are_durable_at_return_and_read_back_compact(
    tracking_uri: str,
) -> None:
    import sqlite3

    import notebook_tracker as nt

    path = tracking_uri.split(":///", 1)[1]
    with nt.start_run() as run:
        run_id = run.info.run_id
        for step in range(300):
            nt.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=True)
            if step in (0, 150):  # committed before the call returned: another connection sees it
                with sqlite3.connect(path) as other:
                    (count,) = other.execute(
                        "SELECT coalesce(sum(count), 0) FROM metric_chunks WHERE run_uuid = ?",
                        (run_id,),
                    ).fetchone()
                assert count == step + 1
    store = SqlStore(tracking_uri)
    assert chunk_count(store, run_id, "loss") < 64  # not 300
    history = nt.get_metric_history(run_id, "loss")
    assert [p.step for p in history] == list(range(300))
    assert [p.value for p in history] == [1.0 / (s + 1) for s in range(300)]

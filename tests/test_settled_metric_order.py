"""Latest metrics settled in the (key, value) index, or left out of it while a run is logged to
(migration 0010): searches ordered by a metric see every run in the right order either way,
logging to a run does not rewrite the index however many runs the store holds, and runs that
end, or go idle, are settled again."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from helpers import all_page_ids, downgrade_store
from sqlalchemy import create_engine, text

from notebook_tracker.client import TrackingClient
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import Metric, Param
from notebook_tracker.store import forget_stores
from notebook_tracker.store.metric_settling import settle_idle_runs
from notebook_tracker.store.schema_version import upgrade
from notebook_tracker.store.sqlite_first_write import FirstWriteStore


def _flags(client: TrackingClient) -> dict[str, set[bool]]:
    """run -> the settled flags of its latest metrics."""
    found: dict[str, set[bool]] = {}
    with client.store.writer.connect() as conn:
        for run_id, settled in conn.execute(text("SELECT run_uuid, settled FROM latest_metrics")):
            found.setdefault(run_id, set()).add(bool(settled))
    return found


def _set_flags(client: TrackingClient, run_ids: list[str], settled: bool) -> None:
    """As settling and logging set them: a settled row's value copied where PostgreSQL's index
    orders it (migration 0011)."""
    copy = ", settled_value = value" if settled else ""
    with client.store.writer.begin() as conn:
        for run_id in run_ids:
            conn.execute(
                text(f"UPDATE latest_metrics SET settled = :s{copy} WHERE run_uuid = :r"),
                {"s": settled, "r": run_id},
            )


def _expected(runs: dict[str, tuple[float | None, int]], ascending: bool) -> list[str]:
    """MLflow's order: numbers by value, then NaN, then runs without the metric; ties by start
    time, newest first, then by run id."""

    def key(item: tuple[str, tuple[float | None, int]]) -> tuple:
        run_id, (value, start) = item
        rank = 2 if value is None else 1 if math.isnan(value) else 0
        number = 0.0 if rank else (value if ascending else -value)  # type: ignore[operator]
        return (rank, number, -start, run_id)

    return [run_id for run_id, _ in sorted(runs.items(), key=key)]


def test_a_metric_order_merges_settled_runs_and_runs_being_logged_on_every_page(
    client: TrackingClient,
):
    exp = client.create_experiment("settled-order")
    runs: dict[str, tuple[float | None, int]] = {}
    for i in range(40):
        start = 1000 + i % 6
        run_id = client.create_run(exp, start_time=start).info.run_id
        # Ties in value and start time across both kinds of rows; NaN and missing runs too.
        value = None if i % 9 == 0 else math.nan if i % 7 == 0 else float(i % 5)
        metrics = [Metric("other", 1.0, 0, 0)]
        if value is not None:
            metrics.append(Metric("acc", value, 0, 0))
        client.store.log_batch(run_id, metrics, [Param("lr", str(i % 2))], [])
        runs[run_id] = (value, start)
    ids = list(runs)
    _set_flags(client, ids[::2], True)
    _set_flags(client, ids[1::2], False)
    assert {frozenset(f) for f in _flags(client).values()} == {
        frozenset({True}),
        frozenset({False}),
    }

    for order, ascending in ((["metrics.acc"], True), (["metrics.acc DESC"], False)):
        expected = _expected(runs, ascending)
        for size in (1, 4, 7, 100):
            assert all_page_ids(client, exp, "", order, size) == expected, (order, size)
        only = [r for r in expected if runs[r][0] is not None and runs[r][0] >= 2]  # type: ignore[operator]
        assert all_page_ids(client, exp, "metrics.acc >= 2", order, 3) == only, order
        lr_one = [r for r in expected if ids.index(r) % 2 == 1]
        assert all_page_ids(client, exp, "params.lr = '1'", order, 5) == lr_one, order


def test_logging_takes_a_run_out_of_the_index_and_its_end_puts_it_back(client: TrackingClient):
    exp = client.create_experiment("flags")
    logged, ended = (client.create_run(exp).info.run_id for _ in range(2))
    for run_id in (logged, ended):
        client.log_batch(run_id, [Metric(f"m{k}", k, 0, 1) for k in range(20)])
        client.log_batch(run_id, [Metric(f"m{k}", k + 1.5, 0, 2) for k in range(20)])
    client.set_terminated(ended)
    assert _flags(client) == {logged: {False}, ended: {True}}
    if client.store.writer.dialect.name == "postgresql":  # its index orders a copy (0011)
        with client.store.writer.connect() as conn:
            copies = conn.execute(
                text("SELECT settled_value = value FROM latest_metrics WHERE run_uuid = :r"),
                {"r": ended},
            )
            assert {row[0] for row in copies} == {True}
    # A settled run logged to again (a resumed run) leaves the index with its next batch.
    client.log_batch(ended, [Metric(f"m{k}", k + 2, 0, 3) for k in range(20)])
    assert _flags(client)[ended] == {False}
    assert client.get_run(ended).data.metrics["m3"] == 5
    forget_stores()


def test_a_log_batch_writes_as_few_pages_to_a_store_of_many_runs_as_to_an_empty_one(
    tmp_path: Path,
):
    """The WAL frames one 100-key log-batch commits, to a store holding 2 other runs and 400
    (ended, settled): the (key, value) index held every row, each batch moved an entry of it
    per key, each on its own page once the store held a few hundred runs: 19 frames to the
    store of 2 runs, 116-139 to the store of 400, where both now take 14-16."""
    frames = {}
    for others in (2, 400):
        db = tmp_path / f"{others}.db"
        client = TrackingClient(f"sqlite:///{db}")
        exp = client.create_experiment("pages")
        for _ in range(others):
            run_id = client.create_run(exp).info.run_id
            client.log_batch(run_id, [Metric(f"m{k}", k * 0.5, 0, 0) for k in range(100)])
            client.set_terminated(run_id)
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, [Metric(f"m{k}", 0.0, 0, 0) for k in range(100)])
        found = []
        for step in (1, 2, 3):
            with sqlite3.connect(db, isolation_level=None) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            client.log_batch(run_id, [Metric(f"m{k}", k * step, 0, step) for k in range(100)])
            with sqlite3.connect(db, isolation_level=None) as conn:
                found.append(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        frames[others] = min(found)
        forget_stores()
    # 14-19 either way (a page split varies it); the index's way was 116-139 for 400 runs.
    assert frames[400] <= 2 * frames[2], frames
    assert frames[400] < 30, frames


def test_idle_runs_are_settled_and_runs_being_logged_are_not(tmp_path: Path):
    client = TrackingClient(f"sqlite:///{tmp_path / 't.db'}")
    exp = client.create_experiment("idle")
    old = now_ms() - 3_600_000
    idle, busy = (client.create_run(exp).info.run_id for _ in range(2))
    client.log_batch(idle, [Metric(f"m{k}", k, old, 0) for k in range(5)])
    client.log_batch(busy, [Metric(f"m{k}", k, now_ms(), 0) for k in range(5)])
    client.log_batch(busy, [Metric("m0", 9, old, 1), Metric("m1", 9, old, 1)])  # one key recent

    assert settle_idle_runs(client.store.writer, pause_s=0) == 1
    assert _flags(client) == {idle: {True}, busy: {False}}
    found = client.search_runs([exp], order_by=["metrics.m4 DESC"])
    assert [r.info.run_id for r in found] == [busy, idle]
    forget_stores()


def test_a_search_ordered_by_a_metric_starts_the_settling_pass(tmp_path: Path):
    client = TrackingClient(f"sqlite:///{tmp_path / 't.db'}")
    exp = client.create_experiment("pass")
    run_id = client.create_run(exp).info.run_id
    client.log_batch(run_id, [Metric(f"m{k}", k, now_ms() - 3_600_000, 0) for k in range(5)])
    client.search_runs([exp], order_by=["start_time DESC"])
    assert not client.store._settler.running() and client.store._settler.thread is None
    client.search_runs([exp], order_by=["metrics.m1"])
    client.store.wait_for_settler(30)
    assert _flags(client) == {run_id: {True}}
    forget_stores()


def test_a_store_from_before_upgrades_with_every_row_settled(tmp_path: Path):
    db = tmp_path / "t.db"
    uri = f"sqlite:///{db}"
    client = TrackingClient(uri)
    exp = client.create_experiment("upgrade")
    ids = [client.create_run(exp, start_time=1000 + i).info.run_id for i in range(6)]
    for i, run_id in enumerate(ids):
        client.log_batch(run_id, [Metric("acc", i % 3, 0, 0), Metric("b", 1, 0, 0)])
    forget_stores()
    downgrade_store(create_engine(uri), "0009_clustered_key_values")
    with sqlite3.connect(db) as conn:
        assert "settled" not in {
            row[1] for row in conn.execute("PRAGMA table_info(latest_metrics)")
        }
        conn.execute("UPDATE runs SET packed_values = 'packed'")

    upgrade(create_engine(uri), "0010_settled_metric_order")

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT settled FROM latest_metrics").fetchall() == [(1,)]
        conn.execute("UPDATE latest_metrics SET settled = 0")
        # Settling moves index entries only: a run's packed values stay valid.
        assert conn.execute("SELECT DISTINCT packed_values FROM runs").fetchall() == [("packed",)]
        plan = " ".join(
            str(row)
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT run_uuid FROM latest_metrics "
                "WHERE key = 'acc' AND settled = 1 ORDER BY value LIMIT 3"
            )
        )
    assert "ix_latest_metrics_settled_value" in plan
    reopened = TrackingClient(uri)
    found = reopened.search_runs([exp], order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [ids[5], ids[2], ids[4], ids[1], ids[3], ids[0]]
    forget_stores()


@pytest.mark.parametrize("status", ["FINISHED", "KILLED"])
def test_a_run_ended_through_the_first_write_path_is_settled(
    tmp_path: Path, status: str, monkeypatch: pytest.MonkeyPatch
):
    uri = f"sqlite:///{tmp_path / 't.db'}"
    client = TrackingClient(uri)
    run_id = client.create_run(client.create_experiment("end")).info.run_id
    client.log_batch(run_id, [Metric("a", 1, 0, 0), Metric("b", 2, 0, 0)])
    forget_stores()
    fast = FirstWriteStore.open(uri)  # a fresh process's first writes
    assert fast is not None
    monkeypatch.setattr(fast, "_open_now", lambda: None)  # kept on the fast path
    monkeypatch.setattr(fast, "full", _no_full_store)
    fast.end_run(run_id, status, now_ms(), [(run_id, "a", 3.0, 0, 1)])
    assert _flags(client) == {run_id: {True}}
    assert client.get_run(run_id).data.metrics == {"a": 3.0, "b": 2.0}
    forget_stores()


def _no_full_store() -> None:
    raise AssertionError("the first-write path handed the call to the full store")


def test_a_run_the_reaper_marks_killed_is_settled(tmp_path: Path):
    from sqlalchemy import update

    from notebook_tracker.store.schema import runs

    client = TrackingClient(f"sqlite:///{tmp_path / 't.db'}")
    run_id = client.create_run(client.create_experiment("reaped")).info.run_id
    client.log_batch(run_id, [Metric("a", 1, now_ms(), 0), Metric("b", 2, now_ms(), 0)])
    assert _flags(client) == {run_id: {False}}
    with client.store.writer.begin() as conn:  # as if owned by a machine that went quiet
        conn.execute(update(runs).values(owner_host="elsewhere", heartbeat_time=1))
    assert client.store.reap_dead_runs() == [run_id]
    assert _flags(client) == {run_id: {True}}
    forget_stores()

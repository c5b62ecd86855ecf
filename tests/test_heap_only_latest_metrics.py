"""PostgreSQL's latest metrics (migration 0011): a run's rows are unsettled while it is logged
to, so a new value changes no indexed column and is a heap-only update; settling copies each
value where the settled index orders it, and searches ordered by a metric read the right order
from settled and unsettled rows; a store from before upgrades with its settled values copied."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import all_page_ids, downgrade_store
from sqlalchemy import inspect, text

from notebook_tracker.client import TrackingClient
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import Metric
from notebook_tracker.store import forget_stores
from notebook_tracker.store.metric_settling import settle_idle_runs
from notebook_tracker.store.schema_version import current_revision, upgrade
from notebook_tracker.store.sql_metric_write import upsert_latest_points

pytestmark = pytest.mark.postgres


def _rows(client: TrackingClient) -> dict[tuple[str, str], tuple[bool, Any, Any]]:
    """(run, key) -> (settled, settled_value, value)."""
    with client.store.writer.connect() as conn:
        found = conn.execute(
            text("SELECT run_uuid, key, settled, settled_value, value FROM latest_metrics")
        )
        return {(r, k): (s, c, v) for r, k, s, c, v in found}


def _assert_settled_copies(client: TrackingClient, run_id: str, settled: bool) -> None:
    rows = {k: v for k, v in _rows(client).items() if k[0] == run_id}
    assert rows
    for flag, copy, value in rows.values():
        assert flag is settled
        if settled:
            assert copy == value


def test_a_metric_order_reads_settled_copies_and_values_being_logged_in_one_order(
    postgres_uri: str,
):
    client = TrackingClient(postgres_uri)
    exp = client.create_experiment("order")
    values: dict[str, float] = {}
    for i in range(12):
        run_id = client.create_run(exp, start_time=1000 + i).info.run_id
        client.log_batch(run_id, [Metric("acc", float(i), 0, 0)])
        values[run_id] = float(i)
        if i % 2:
            client.set_terminated(run_id)  # settled at i
    # Settled and unsettled runs change places: the settled copies must not hold old values.
    for run_id, value in list(values.items())[::3]:
        client.log_batch(run_id, [Metric("acc", 20.0 - value, 0, 1)])
        values[run_id] = 20.0 - value
    client.set_terminated(list(values)[3])
    starts = {run_id: i for i, run_id in enumerate(values)}  # ties: the newest start first
    expected = sorted(values, key=lambda r: (-values[r], -starts[r]))
    for size in (1, 5, 100):
        assert all_page_ids(client, exp, "", ["metrics.acc DESC"], size) == expected, size
    forget_stores()


def test_a_new_value_of_a_run_being_logged_to_updates_no_index(postgres_uri: str):
    """Counted by PostgreSQL in the writing transaction: the first batch to a settled run
    unsettles its rows (a change to an indexed column, once); every later value is heap-only."""
    client = TrackingClient(postgres_uri)
    run_id = client.create_run(client.create_experiment("hot")).info.run_id
    client.log_batch(run_id, [Metric(f"m{k}", 0.0, 0, 0) for k in range(10)])
    client.set_terminated(run_id)
    with client.store.writer.begin() as conn:
        for step in (1, 2, 3):
            points = [
                {"run_uuid": run_id, "key": f"m{k}", "step": step, "timestamp": 0,
                 "value": step + k / 10, "is_nan": False}
                for k in range(10)
            ]  # fmt: skip
            upsert_latest_points(conn, points)
        updated, heap_only = conn.execute(
            text(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                "WHERE relname = 'latest_metrics'"
            )
        ).one()
    assert (updated, heap_only) == (30, 20)
    assert client.get_run(run_id).data.metrics["m4"] == 3.4
    forget_stores()


def test_idle_runs_are_settled_with_their_values(postgres_uri: str):
    client = TrackingClient(postgres_uri)
    exp = client.create_experiment("idle")
    old = now_ms() - 3_600_000
    idle, busy = (client.create_run(exp).info.run_id for _ in range(2))
    client.log_batch(idle, [Metric(f"m{k}", k * 2.5, old, 0) for k in range(5)])
    client.log_batch(busy, [Metric(f"m{k}", k, now_ms(), 0) for k in range(5)])
    assert settle_idle_runs(client.store.writer, pause_s=0) == 1
    _assert_settled_copies(client, idle, True)
    _assert_settled_copies(client, busy, False)
    found = client.search_runs([exp], order_by=["metrics.m4 DESC"])
    assert [r.info.run_id for r in found] == [idle, busy]
    forget_stores()


def test_a_store_from_before_upgrades_with_settled_values_copied_and_packed_runs_kept(
    postgres_uri: str,
):
    client = TrackingClient(postgres_uri)
    exp = client.create_experiment("upgrade")
    ids = [client.create_run(exp, start_time=1000 + i).info.run_id for i in range(6)]
    for i, run_id in enumerate(ids):
        client.log_batch(run_id, [Metric("acc", i % 3 + i / 10, 0, 0), Metric("b", 1, 0, 0)])
        if i < 4:
            client.set_terminated(run_id)
    engine = client.store.writer
    downgrade_store(engine, "0010_settled_metric_order")
    assert "settled_value" not in {c["name"] for c in inspect(engine).get_columns("latest_metrics")}
    with engine.begin() as conn:
        conn.execute(text("UPDATE runs SET packed_values = 'packed'"))
        conn.execute(text("DELETE FROM stale_run_values"))

    upgrade(engine, "0011_heap_only_latest_metrics")  # 0012 lists the running ones stale

    assert current_revision(engine) == "0011_heap_only_latest_metrics"
    with engine.connect() as conn:
        # Copying changes no value: no packed run is marked stale.
        assert conn.execute(text("SELECT count(*) FROM stale_run_values")).scalar_one() == 0
        copies = conn.execute(
            text("SELECT settled, settled_value = value FROM latest_metrics")
        ).all()
    assert sorted(copies) == [(False, None)] * 4 + [(True, True)] * 8
    found = inspect(engine).get_indexes("latest_metrics")
    indexes = {ix["name"]: ix["column_names"] for ix in found}
    assert indexes["ix_latest_metrics_settled_value"] == ["key", "settled_value"]
    assert "ix_latest_metrics_run_key_value" not in indexes
    forget_stores()
    reopened = TrackingClient(postgres_uri)
    found = reopened.search_runs([exp], order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [ids[5], ids[2], ids[4], ids[1], ids[3], ids[0]]
    forget_stores()


def test_writers_and_settling_of_the_same_runs_never_deadlock(postgres_uri: str):
    """Writers unsettle the rows they change, and a run's end or the idle pass settles them:
    both lock a run's rows in (run, key) order, so neither waits on the other in a cycle, which
    PostgreSQL would end by failing one of them."""
    client = TrackingClient(postgres_uri)
    exp = client.create_experiment("no-deadlock")
    run_ids = [client.create_run(exp).info.run_id for _ in range(3)]
    errors: list[BaseException] = []
    stop = time.monotonic() + 4

    def write(reverse: bool) -> None:
        keys = sorted(range(40), reverse=reverse)
        step = 0
        while time.monotonic() < stop:
            step += 1
            try:
                client.store.log_batch(
                    run_ids[step % 3], [Metric(f"m{k}", step + k, 0, step) for k in keys]
                )
            except BaseException as error:  # checked below
                errors.append(error)

    def settle() -> None:
        while time.monotonic() < stop:
            try:
                settle_idle_runs(client.store.writer, idle_ms=-1, pause_s=0)
                client.set_terminated(run_ids[int(time.monotonic() * 100) % 3])
            except BaseException as error:  # checked below
                errors.append(error)

    threads = [threading.Thread(target=write, args=(r,)) for r in (False, True)]
    threads.append(threading.Thread(target=settle))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for run_id in run_ids:
        rows = {k: v for k, v in _rows(client).items() if k[0] == run_id}
        assert all(copy == value for settled, copy, value in rows.values() if settled)
    forget_stores()


def test_one_process_orders_by_a_metric_right_on_sqlite_and_postgresql(
    postgres_uri: str, tmp_path: Path
):
    """A search's first page statement is kept for its next run; PostgreSQL's orders the
    settled copy, which SQLite leaves NULL, so each database kind keeps its own."""
    expected = {}
    clients = [TrackingClient(postgres_uri), TrackingClient(f"sqlite:///{tmp_path / 't.db'}")]
    for client in clients:
        exp = client.create_experiment("both")
        values = {}
        for i in range(6):
            run_id = client.create_run(exp, start_time=1000 + i).info.run_id
            client.log_batch(run_id, [Metric("acc", float((i * 5) % 6), 0, 0)])
            values[run_id] = float((i * 5) % 6)
            if i % 2:
                client.set_terminated(run_id)
        expected[client] = (exp, sorted(values, key=lambda r: -values[r]))
    for _ in range(2):  # a kept statement is used from a search's second run
        for client, (exp, order) in expected.items():
            for size in (1, 100):
                assert all_page_ids(client, exp, "", ["metrics.acc DESC"], size) == order
    forget_stores()

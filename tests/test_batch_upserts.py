"""A batch's latest points and tags, however many runs and keys it holds, as each store keeps
them (PostgreSQL upserts them many rows a statement: store/pg_upserts.py), and a write that
conflicts with another on PostgreSQL."""

from __future__ import annotations

import math
import threading

import pytest
from sqlalchemy import text

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, RunTag
from notebook_tracker.errors import StoreUnavailable
from notebook_tracker.store import sqlite_rows
from notebook_tracker.store.db_errors import StoreIntegrityError
from notebook_tracker.store.factory import tracking_store
from notebook_tracker.store.sql_metric_write import sa_execute

KEYS = 700  # two runs' worth crosses the PostgreSQL statement's 1,000 rows


def _batch(run_ids: list[str], step: int, keys: range = range(KEYS)) -> list[tuple]:
    return [(r, f"k{k:03d}", step + k / 1000, 1_700_000_000_000 + step, step) for r in run_ids
            for k in keys]  # fmt: skip


def test_a_batch_of_many_runs_and_keys_keeps_each_keys_latest_point(client: TrackingClient):
    exp = client.create_experiment("latest")
    run_ids = [client.create_run(exp).info.run_id for _ in range(2)]
    store = client.store
    store.log_metric_groups(_batch(run_ids, 5))
    store.log_metric_groups(_batch(run_ids, 3))  # older steps: nothing replaced
    store.log_metric_groups(_batch(run_ids, 9, range(0, KEYS, 2)))  # half the keys move on
    # Within one batch, a key's later step wins wherever it sits in the batch.
    client.log_batch(
        run_ids[0],
        metrics=[
            Metric("twice", 2.0, 1, 7),
            Metric("twice", 1.0, 2, 6),
            Metric("nan", math.nan, 1, 1),
        ],
    )
    for run_id in run_ids:
        metrics = client.get_run(run_id).data.metrics
        assert len(metrics) == KEYS + (2 if run_id == run_ids[0] else 0)
        for k in range(KEYS):
            step = 9 if k % 2 == 0 else 5
            assert metrics[f"k{k:03d}"] == step + k / 1000, (run_id, k)
    metrics = client.get_run(run_ids[0]).data.metrics
    assert metrics["twice"] == 2.0
    assert math.isnan(metrics["nan"])
    # Values and keys read back exactly as sent, whatever text PostgreSQL's arrays carry them in.
    odd = {"val/acc top 5": 0.1 + 0.2, "a:b-c.d_e": math.inf, "neg inf": -math.inf, "tiny": 5e-324}
    store.log_metric_groups([(run_ids[1], k, v, 1, 2**62) for k, v in odd.items()])
    metrics = client.get_run(run_ids[1]).data.metrics
    assert {k: metrics[k] for k in odd} == odd
    found = client.search_runs([exp], "metrics.k698 > 9", order_by=["metrics.k001 DESC"])
    assert sorted(r.info.run_id for r in found) == sorted(run_ids)


def test_two_writers_updating_the_same_runs_keys_at_once_both_commit(client: TrackingClient):
    """Each writer's batches name the runs' keys in its own order; the store writes them in one
    order, so neither transaction waits on the other's rows while holding rows it wants."""
    exp = client.create_experiment("both")
    run_ids = [client.create_run(exp).info.run_id for _ in range(2)]
    store = client.store
    store.log_metric_groups(_batch(run_ids, 0, range(300)))
    errors: list[BaseException] = []

    def write(reverse: bool) -> None:
        try:
            for step in range(1, 25):
                rows = _batch(run_ids, step, range(300))
                store.log_metric_groups(rows[::-1] if reverse else rows)
        except BaseException as exc:  # reported below, with the other writer's
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(reverse,)) for reverse in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    metrics = client.get_run(run_ids[1]).data.metrics
    assert metrics["k299"] == 24 + 299 / 1000


def test_a_batch_of_many_tags_sets_each_and_the_last_value_of_a_key_wins(client: TrackingClient):
    run_id = client.create_run(client.create_experiment("tags")).info.run_id
    client.log_batch(run_id, tags=[RunTag(f"t{k:04d}", "a") for k in range(1500)])
    client.log_batch(
        run_id,
        tags=[RunTag(f"t{k:04d}", "b") for k in range(0, 1500, 3)]
        + [RunTag("twice", "first"), RunTag("twice", "last"), RunTag("mlflow.runName", "renamed")],
    )
    # Text of any characters reads back as itself (PostgreSQL gets it inside array literals).
    odd = ['a"b', "c\\d", "{x,y}", " lead", "NULL", "", "ключ ✓", "%s", "%(key)s", "'); --", "\n\t"]
    client.log_batch(run_id, tags=[RunTag(f"odd{i}", v) for i, v in enumerate(odd)])
    run = client.get_run(run_id)
    tags = run.data.tags
    assert [tags[f"odd{i}"] for i in range(len(odd))] == odd
    assert all(tags[f"t{k:04d}"] == ("b" if k % 3 == 0 else "a") for k in range(1500))
    assert tags["twice"] == "last"
    assert run.info.run_name == "renamed"


@pytest.mark.postgres
def test_a_write_postgresql_fails_for_a_deadlock_says_to_send_it_again(postgres_uri: str):
    """Two transactions each holding a tag the other wants: PostgreSQL fails one of them. Its
    error names the conflict and says nothing was written, not that the server is unreachable."""
    store = tracking_store(postgres_uri)
    run_id = store.create_run(store.create_experiment("deadlock"), "u", 1, [], None).info.run_id
    store.log_batch(run_id, tags=[RunTag("a", "0"), RunTag("b", "0")])
    both_locked = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(first: str, second: str) -> None:
        update = text("UPDATE tags SET value = :v WHERE run_uuid = :r AND key = :k")
        try:
            with store.writer.begin() as conn:
                conn.execute(update, {"v": first, "r": run_id, "k": first})
                both_locked.wait(timeout=10)
                conn.execute(update, {"v": first, "r": run_id, "k": second})
        except BaseException as exc:  # one of the two, checked below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1, errors
    assert isinstance(errors[0], StoreUnavailable)
    assert "conflicted with another one" in str(errors[0])
    assert "send it again" in str(errors[0])
    assert "running and reachable" not in str(errors[0])
    tags = store.get_run(run_id).data.tags
    assert tags["a"] == tags["b"] != "0"  # the other transaction wrote both, nothing of this


@pytest.mark.postgres
def test_a_statement_of_many_rows_on_postgresql_writes_them_all_or_says_what_failed(
    postgres_uri: str,
):
    """Compaction's many-row statements go to psycopg2 as one batch: every row is written,
    and a row the database refuses fails the transaction with the store's own error."""
    store = tracking_store(postgres_uri)
    run_id = store.create_run(store.create_experiment("batch"), "u", 1, [], None).info.run_id

    def chunk(run: str, key: str) -> dict:
        point = (1).to_bytes(8, "little")
        return {"run_uuid": run, "key": key, "count": 1, "min_step": 1, "max_step": 1,
                "steps": point, "timestamps": point, "values": point}  # fmt: skip

    with store.writer.begin() as conn:
        sa_execute(conn)(sqlite_rows.INSERT_CHUNK, [chunk(run_id, f"k{i}") for i in range(250)])
    with pytest.raises(StoreIntegrityError, match="refused the change") as refused:
        with store.writer.begin() as conn:
            rows = [chunk(run_id, "more"), chunk("no-such-run", "more")]
            sa_execute(conn)(sqlite_rows.INSERT_CHUNK, rows)
    assert "foreign key" in str(refused.value)
    with store.writer.connect() as conn:
        chunks = text("SELECT key FROM metric_chunks WHERE run_uuid = :r")
        found = sorted(row[0] for row in conn.execute(chunks, {"r": run_id}))
    assert found == sorted(f"k{i}" for i in range(250))  # nothing of the refused transaction

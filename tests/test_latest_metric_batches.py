"""A batch's latest points, however many runs and keys it holds, as each store keeps them
(PostgreSQL writes them many rows a statement: store/sql_metric_write.py)."""

from __future__ import annotations

import math
import threading

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric

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

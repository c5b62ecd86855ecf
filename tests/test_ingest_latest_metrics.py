"""The latest value of a metric after a group write of compact columns (server ingest).

Several requests' columns for one (run, key) land in one transaction: the run's latest value
must be the point last in (step, timestamp) order across all of them, not the last column's.
"""

from __future__ import annotations

import math

from notebook_tracker.store.sql import SqlStore
from notebook_tracker.wire import batch


def _columns(run_id: str, rows: list[tuple[str, str, float, int, int]]) -> list:
    return [(run_id, c) for c in batch.decode(batch.encode(run_id, rows)).columns]


def test_latest_is_the_highest_step_across_the_columns_of_one_group(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    run = store.create_run("0", "u", 1).info.run_id
    # The first request carries the higher step; the second, later in the group, a lower one.
    first = _columns(run, [(run, "loss", 0.1, 10, 5), (run, "loss", 0.2, 11, 9)])
    second = _columns(run, [(run, "loss", 0.9, 50, 3)])
    store.log_metric_groups(columns=first + second)
    assert store.get_run(run).data.metrics["loss"] == 0.2


def test_latest_at_an_equal_step_is_the_later_timestamp_and_keeps_nan(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    run = store.create_run("0", "u", 1).info.run_id
    first = _columns(run, [(run, "acc", math.nan, 20, 4)])
    second = _columns(run, [(run, "acc", 0.5, 10, 4)])
    store.log_metric_groups(columns=first + second)
    assert math.isnan(store.get_run(run).data.metrics["acc"])

"""A server's JSON log-batch points, staged one row per run, read back exactly as chunks would.

The group write (`log_metric_groups`) stores a run's points of many keys in one staged row and
merges staged rows into per-key chunks later; every reader must see the same points in the same
order as if each key had its own chunks: histories (duplicates, NaN, infinities, ties kept in
write order), latest metrics, search ordered by a metric, on SQLite and PostgreSQL; an existing
store upgrades in place.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from helpers import chunk_count
from sqlalchemy import create_engine, text

from notebook_tracker.errors import NotFound
from notebook_tracker.store import forget_stores
from notebook_tracker.store.metric_staging import (
    STAGE_MAX_POINTS,
    STAGE_ROWS,
    STAGED_KEY,
    split_rows,
)
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision, upgrade
from notebook_tracker.store.sql import SqlStore

Row = tuple[str, str, float, int, int]
KEYS = [f"m{k}" for k in range(12)]


@pytest.fixture(autouse=True)
def _fast_sqlite_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Durability is not what is tested here; one fsync per write would only slow it down.
    monkeypatch.setenv("NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS", "NORMAL")


def _new_run(store: SqlStore) -> str:
    exp = store.create_experiment(f"e{random.random()}")
    return store.create_run(exp, "u", 0).info.run_id


def _staged_rows(store: SqlStore, run_id: str, key: str = STAGED_KEY) -> int:
    """The run's staged rows, or with `key` its chunks of that key."""
    return chunk_count(store, run_id, key)


def _awkward_batches(run_id: str, n: int) -> list[list[Row]]:
    """Batches as a training loop's log-batch would send them, plus what a loop gets wrong:
    a (key, step) sent twice in one batch and across batches, ties of (step, timestamp) with
    different values, steps going back, NaN, both infinities and -0.0."""
    specials = [math.nan, math.inf, -math.inf, -0.0]
    batches = []
    for b in range(n):
        step = b if b % 9 else max(0, b - 5)  # now and then a step already logged
        rows = [
            (
                run_id,
                key,
                specials[(b + k) % 4] if (b + k) % 13 == 0 else b + k / 100,
                7 + b % 3,
                step,
            )
            for k, key in enumerate(KEYS)
        ]
        if b % 4 == 0:
            rows.append((run_id, "m1", float(-b), 7 + b % 3, step))  # a tie in the same batch
        batches.append(rows)
    return batches


def _history(store: SqlStore, run_id: str, key: str) -> tuple[list[int], list[int], bytes]:
    h = store.get_metric_history(run_id, key)
    return h.steps.tolist(), h.timestamps.tolist(), h.values.astype("<f8").tobytes()


def _expected(rows: list[Row], key: str) -> tuple[list[int], list[int], bytes]:
    """Sorted by (step, timestamp), ties in write order: what an ordinary chunk history reads."""
    mine = [r for r in rows if r[1] == key]
    order = sorted(range(len(mine)), key=lambda i: (mine[i][4], mine[i][3], i))
    values = np.asarray([mine[i][2] for i in order], dtype="<f8").tobytes()
    return [mine[i][4] for i in order], [mine[i][3] for i in order], values


def test_staged_history_reads_back_exactly_what_was_logged(store_uri: str) -> None:
    store = SqlStore(store_uri)
    run_id = _new_run(store)
    written: list[Row] = []
    for n, rows in enumerate(_awkward_batches(run_id, 3 * STAGE_ROWS + 5)):
        store.log_metric_groups(rows)
        written.extend(rows)
        if n == STAGE_ROWS // 2:  # an ordinary chunk of one key between staged rows
            direct = [(run_id, "m1", 99.0, 7 + n % 3, n)]
            store.log_metric_rows(direct)
            written.extend(direct)
        # Read between writes too: staged and merged points together.
        if n in (3, STAGE_ROWS, 2 * STAGE_ROWS + 1):
            assert _history(store, run_id, "m1") == _expected(written, "m1")
    assert _staged_rows(store, run_id) < STAGE_ROWS  # merged as they came
    assert _staged_rows(store, run_id, "m5") >= 2  # merged twice at least: chunks of m5
    for key in KEYS:
        assert _history(store, run_id, key) == _expected(written, key), key


def test_staged_points_are_the_latest_metrics_that_search_orders_by(store_uri: str) -> None:
    store = SqlStore(store_uri)
    exp = store.create_experiment("order")
    runs = [store.create_run(exp, "u", 0).info.run_id for _ in range(3)]
    # All three runs in one group, as concurrent requests are committed together.
    store.log_metric_groups(
        [
            (run_id, key, float(i * 10 + k), 5, 3)
            for i, run_id in enumerate(runs)
            for k, key in enumerate(KEYS)
        ]  # fmt: skip
    )
    store.log_metric_groups(
        [(runs[0], key, 100.0 + k, 6, 4) for k, key in enumerate(KEYS)]  # a later step
    )
    assert store.get_run(runs[0]).data.metrics["m2"] == 102.0
    assert store.get_run(runs[2]).data.metrics["m11"] == 31.0
    found = store.search_runs([exp], "metrics.m2 < 50", order_by=["metrics.m2 DESC"])
    assert [r.info.run_id for r in found] == [runs[2], runs[1]]


def test_a_group_with_a_deleted_run_writes_nothing_and_names_the_run(store_uri: str) -> None:
    store = SqlStore(store_uri)
    alive, deleted = _new_run(store), _new_run(store)
    store.delete_run(deleted)
    rows = [(r, key, 1.0, 5, 0) for r in (alive, deleted) for key in KEYS]
    with pytest.raises(Exception, match=deleted):
        store.log_metric_groups(rows)
    assert len(store.get_metric_history(alive, "m0")) == 0
    assert store.get_run(alive).data.metrics == {}


def test_a_staged_run_purged_leaves_no_rows(store_uri: str) -> None:
    store = SqlStore(store_uri)
    run_id = _new_run(store)
    store.log_metric_groups([(run_id, key, 1.0, 5, 0) for key in KEYS])
    assert _staged_rows(store, run_id) == 1
    store.delete_run(run_id)
    store.purge_run(run_id)
    assert _staged_rows(store, run_id) == 0
    with pytest.raises(NotFound):
        store.log_metric_groups([(run_id, key, 1.0, 5, 1) for key in KEYS])


def test_few_keys_are_written_as_ordinary_chunks() -> None:
    few = [("r", f"k{k}", 1.0, 1, s) for k in range(3) for s in range(50)]
    many = [("r", f"k{k}", 1.0, 1, 0) for k in range(8)]
    assert split_rows(few)[0] == []  # 3 keys: a chunk per key is as small
    staged, points, direct = split_rows(many + few)
    assert len(staged) == 1 and staged[0]["count"] == len(many + few) and direct == []
    # A backlog of one run in one group: chunks of many points each, not one huge staged row.
    backlog = [("r", f"k{k}", 1.0, 1, s) for k in range(10) for s in range(STAGE_MAX_POINTS)]
    assert split_rows(backlog)[0] == []


def test_a_store_at_the_previous_revision_upgrades_in_place_and_keeps_its_histories(
    tmp_path,
) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(create_engine(uri), "0006_covering_key_values")
    old = create_engine(uri)
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage)"
                " VALUES (0, 'Default', '/tmp/a/0', 'active')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_uuid, name, experiment_id, status, start_time, "
                "lifecycle_stage, artifact_uri) VALUES ('0123456789abcdef0123456789abcdef', "
                "'old-run', 0, 'RUNNING', 1, 'active', '/tmp/a/0/x/artifacts')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO metric_chunks (run_uuid, key, count, min_step, max_step, steps, "
                "timestamps, \"values\") VALUES ('0123456789abcdef0123456789abcdef', 'm0', 1, 0,"
                " 0, :s, :t, :v)"
            ),
            {
                "s": np.int64(0).tobytes(),
                "t": np.int64(5).tobytes(),
                "v": np.float64(0.5).tobytes(),
            },
        )
    forget_stores()
    store = SqlStore(uri)
    assert current_revision(old) == HEAD_REVISION
    run_id = "0123456789abcdef0123456789abcdef"
    store.log_metric_groups([(run_id, key, 1.5, 6, 1) for key in KEYS])
    assert store.get_metric_history(run_id, "m0").values.tolist() == [0.5, 1.5]

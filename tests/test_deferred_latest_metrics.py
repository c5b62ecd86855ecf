"""PostgreSQL: a server's staged write counts its run in latest_pending instead of upserting a
latest_metrics row a key (store/latest_folding.py). Whatever reads latest values (a run, a
search filtered or ordered by a metric, a DataFrame, the sidebar's rows) sees every value
written before it, a run's end settles its last values, a merge of the staged rows brings
them in without a read, and a write landing while a fold runs is never dropped."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import downgrade_store
from sqlalchemy import text

from notebook_tracker.client import TrackingClient
from notebook_tracker.frames import columns_to_frame
from notebook_tracker.store import forget_stores, latest_folding
from notebook_tracker.store.metric_staging import STAGED_RUNS
from notebook_tracker.store.schema import HEAD_REVISION
from notebook_tracker.store.schema_version import current_revision, upgrade
from notebook_tracker.store.sql_metric_write import sa_execute
from notebook_tracker.store.sql_run_rows import search_run_rows

pytestmark = pytest.mark.postgres

KEYS = 12  # staged: a run's points of many keys in one row
STAMP = 1_700_000_000_000


@pytest.fixture
def client(postgres_uri: str):
    yield TrackingClient(postgres_uri)
    forget_stores()


def _write(client: TrackingClient, run_id: str, step: int, base: float = 0.0) -> None:
    """A server's group write: KEYS metrics at `step`, m{k} = base + step * 10 + k."""
    client.store.log_metric_groups(  # type: ignore[attr-defined]
        [(run_id, f"m{k:02d}", base + step * 10.0 + k, STAMP + step, step) for k in range(KEYS)]
    )


def _query(client: TrackingClient, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with client.store.writer.connect() as conn:  # type: ignore[attr-defined]
        return [tuple(row) for row in conn.execute(text(sql), params)]


def _stored(client: TrackingClient, run_id: str) -> dict[str, float]:
    rows = _query(client, 'SELECT "key", "value" FROM latest_metrics WHERE run_uuid = :r', r=run_id)
    return dict(rows)  # type: ignore[arg-type]


def _counted(client: TrackingClient) -> set[str]:
    return {row[0] for row in _query(client, "SELECT run_uuid FROM latest_pending")}


def _run(client: TrackingClient, name: str = "deferred") -> tuple[str, str]:
    exp = client.create_experiment(name)
    return exp, client.create_run(exp).info.run_id


def test_a_staged_write_counts_its_run_and_a_run_read_right_after_sees_every_value(
    client: TrackingClient,
):
    _, run_id = _run(client)
    _write(client, run_id, 0)
    _write(client, run_id, 1)
    assert _stored(client, run_id) == {}  # no row a key at write time
    assert _counted(client) == {run_id}
    metrics = client.get_run(run_id).data.metrics
    assert metrics == {f"m{k:02d}": 10.0 + k for k in range(KEYS)}
    assert _stored(client, run_id) == metrics  # folded by the read, count cleared
    assert _counted(client) == set()


def test_searches_filter_and_order_by_values_only_staged_so_far(client: TrackingClient):
    exp, low = _run(client)
    high = client.create_run(exp).info.run_id
    _write(client, low, 1)
    _write(client, high, 1, base=100.0)
    found = client.search_runs([exp], "metrics.m03 > 50", order_by=["metrics.m03 DESC"])
    assert [r.info.run_id for r in found] == [high]
    ordered = client.search_runs([exp], order_by=["metrics.m05 ASC"])
    assert [r.info.run_id for r in ordered] == [low, high]
    _write(client, low, 2, base=500.0)  # a new value after the last fold: read at once
    ordered = client.search_runs([exp], order_by=["metrics.m05 DESC"])
    assert [(r.info.run_id, r.data.metrics["m05"]) for r in ordered] == [
        (low, 525.0),
        (high, 115.0),
    ]


def test_a_dataframe_and_the_sidebars_rows_see_values_only_staged_so_far(
    client: TrackingClient,
):
    exp, run_id = _run(client)
    _write(client, run_id, 3)
    found, _ = client.store.search_run_columns([exp])  # type: ignore[attr-defined]
    assert columns_to_frame(found).loc[0, "metrics.m07"] == 37.0
    _write(client, run_id, 4)
    rows, _ = search_run_rows(client.store, [exp], "", "ACTIVE_ONLY", 100, None, None)
    assert rows[0]["metrics"]["m07"] == 47.0


def test_a_runs_end_folds_then_settles_its_last_values(client: TrackingClient):
    _, run_id = _run(client)
    for step in range(3):
        _write(client, run_id, step)
    client.set_terminated(run_id)
    rows = _query(
        client,
        'SELECT "key", "value", settled, settled_value FROM latest_metrics WHERE run_uuid = :r',
        r=run_id,
    )
    assert sorted(rows) == [(f"m{k:02d}", 20.0 + k, True, 20.0 + k) for k in range(KEYS)]
    assert _counted(client) == set()


def test_merging_a_runs_staged_rows_brings_their_latest_values_without_a_read(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
):
    _, run_id = _run(client)
    monkeypatch.setattr(STAGED_RUNS, "every", 3)
    monkeypatch.setattr(STAGED_RUNS, "rows", {run_id: 0})
    for step in range(3):  # the third write's merge unstages all three
        _write(client, run_id, step)
    staged = _query(
        client, "SELECT count(*) FROM metric_chunks WHERE run_uuid = :r AND key = ''", r=run_id
    )
    assert staged == [(0,)]
    assert _stored(client, run_id) == {f"m{k:02d}": 20.0 + k for k in range(KEYS)}
    # A later fold starts after the merge's chunks: it reads what came since, not the history.
    (since,) = _query(client, "SELECT since FROM latest_pending WHERE run_uuid = :r", r=run_id)
    newest = _query(client, "SELECT max(chunk_id) FROM metric_chunks WHERE run_uuid = :r", r=run_id)
    assert since[0] == newest[0][0] + 1
    _write(client, run_id, 3)
    assert client.get_run(run_id).data.metrics["m01"] == 31.0


def test_a_write_landing_while_a_fold_runs_is_left_counted_for_the_next_read(
    client: TrackingClient,
):
    _, run_id = _run(client)
    _write(client, run_id, 1)
    with client.store.writer.begin() as conn:  # type: ignore[attr-defined]
        execute = sa_execute(conn)

        def meanwhile(sql: str, params: Any) -> Any:
            if sql.startswith('DELETE FROM "latest_pending"'):
                _write(client, run_id, 2)  # commits on its own connection, before the clear
            return execute(sql, params)

        assert latest_folding.fold_in(meanwhile, [run_id]) == 1
    assert _stored(client, run_id)["m04"] == 14.0  # the fold's own values
    assert _counted(client) == {run_id}  # the write's count is kept...
    assert client.get_run(run_id).data.metrics["m04"] == 24.0  # ...and the next read folds it
    assert _counted(client) == set()


def test_a_lone_point_after_staged_ones_at_the_same_step_and_time_stays_latest(
    client: TrackingClient,
):
    _, run_id = _run(client)
    _write(client, run_id, 5)
    client.store.log_metric_groups([(run_id, "m02", -1.0, STAMP + 5, 5)])  # type: ignore[attr-defined]
    assert client.get_run(run_id).data.metrics["m02"] == -1.0


def test_a_downgrade_folds_what_is_counted_first(client: TrackingClient):
    _, run_id = _run(client)
    _write(client, run_id, 6)
    engine = client.store.writer  # type: ignore[attr-defined]
    downgrade_store(engine, "0013_lz4_metric_chunks")
    assert current_revision(engine) == "0013_lz4_metric_chunks"
    assert _stored(client, run_id) == {f"m{k:02d}": 60.0 + k for k in range(KEYS)}
    upgrade(engine, HEAD_REVISION)
    assert _counted(client) == set()

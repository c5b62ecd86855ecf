"""Run search pages as plain rows (what the sidebar lists) agree with `search_runs`."""

from __future__ import annotations

import math

import pytest

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric
from notebook_tracker.server.native_api import run_json
from notebook_tracker.store import sql_run_rows
from notebook_tracker.store.sql_run_rows import SearchCancelled, search_run_rows


@pytest.fixture
def client(tracking_uri: str) -> TrackingClient:
    return TrackingClient(tracking_uri)


def seed(client: TrackingClient, n: int) -> tuple[str, list[str]]:
    exp = client.create_experiment("many")
    ids = []
    for i in range(n):
        parent = {"mlflow.parentRunId": ids[0]} if i and i % 3 == 0 else {}
        run = client.create_run(exp, run_name=f"r{i}", start_time=1000 + i, tags=parent)
        rid = run.info.run_id
        client.log_param(rid, "lr", str(i % 4))
        client.store.log_batch(rid, [Metric("acc", math.nan if i == 2 else i / n, 1, 0)], [], [])
        ids.append(rid)
    client.delete_run(ids[5])
    return exp, ids


def same(a: dict, b: dict) -> bool:
    """Equal, NaN included."""
    nan = "nan"
    fix = {k: nan if isinstance(v, float) and math.isnan(v) else v for k, v in a["metrics"].items()}
    fiy = {k: nan if isinstance(v, float) and math.isnan(v) else v for k, v in b["metrics"].items()}
    return {**a, "metrics": fix} == {**b, "metrics": fiy}


@pytest.mark.parametrize(
    "filter_string,order_by",
    [
        ("", None),
        ("metrics.acc > 0.3", ["metrics.acc DESC"]),
        ("params.lr = '1'", ["attributes.run_name ASC"]),
    ],
)
def test_rows_are_the_runs_search_runs_returns_page_by_page(
    client, monkeypatch, filter_string, order_by
):
    monkeypatch.setattr(sql_run_rows, "CHUNK", 4)  # several chunks per page
    exp, _ = seed(client, 23)
    store = client.store
    token = None
    for _ in range(10):
        page = store.search_runs([exp], filter_string, "ALL", 7, order_by, token)
        rows, next_token = search_run_rows(store, [exp], filter_string, "ALL", 7, order_by, token)
        expected = [run_json(r) for r in page]
        assert len(rows) == len(expected)
        assert all(same(a, b) for a, b in zip(rows, expected, strict=True))
        assert next_token == page.token
        token = page.token
        if token is None:
            break
    assert token is None


def test_without_tags_a_child_still_names_its_parent(client):
    exp, ids = seed(client, 7)
    rows, _ = search_run_rows(
        client.store, [exp], "", "ACTIVE_ONLY", 100, None, None, with_tags=False
    )
    child = next(r for r in rows if r["run_name"] == "r3")
    assert child["parent_run_id"] == ids[0] and child["tags"] == {}
    assert len(rows) == 6  # r5 is deleted


def test_a_page_nobody_waits_for_stops_between_chunks(client, monkeypatch):
    monkeypatch.setattr(sql_run_rows, "CHUNK", 2)
    exp, _ = seed(client, 9)
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(SearchCancelled):
        search_run_rows(client.store, [exp], "", "ALL", 100, None, None, cancelled=cancelled)
    assert len(asked) == 2


def test_newest_runs_of_several_experiments_may_walk_the_start_time_index(client):
    from notebook_tracker.store.sql_search import build_run_search

    a, _ = seed(client, 7)
    b = client.create_experiment("other")
    client.create_run(b, run_name="newest", start_time=10_000)
    query = build_run_search([a, b], ["active"], "", ["attributes.start_time DESC"], 0, 3)
    one = build_run_search([a], ["active"], "", ["attributes.start_time DESC"], 0, 3)
    with client.store.reader.connect() as conn:
        sql = str(query.compile(conn))
        names = [row.name for row in conn.execute(query)]
        indexes = {row[1] for row in conn.exec_driver_sql("PRAGMA index_list('runs')")}
        # One experiment keeps its (experiment_id, start_time) index.
        assert "+runs.experiment_id" not in str(one.compile(conn))
    # On 100,000 runs SQLite then walks ix_runs_start_time and stops after the page
    # (benchmarks/bench_sidebar.py) instead of sorting every run.
    assert "ix_runs_start_time" in indexes and "+runs.experiment_id IN" in sql
    assert names == ["newest", "r6", "r4"]  # r5 is deleted

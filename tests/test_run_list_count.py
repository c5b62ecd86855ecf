"""The run list's count: how many runs match when the sidebar shows only the first of them."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType
from notebook_tracker.errors import FilterSyntaxError
from notebook_tracker.store.factory import tracking_store
from notebook_tracker.store.sql_run_count import count_runs

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(tracking_uri: str) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"notebook_tracker": True},
            "allow_unauthenticated_access": False,
        }
    }


def seed(client: TrackingClient) -> tuple[str, str]:
    """Two experiments: 'a' with 7 runs (acc 0..0.6, one deleted), 'b' with 3."""
    a = client.create_experiment("a")
    b = client.create_experiment("b")
    for i in range(7):
        run = client.create_run(a, run_name=f"a-{i}")
        client.log_metric(run.info.run_id, "acc", i / 10)
        if i == 6:
            client.delete_run(run.info.run_id)
    for i in range(3):
        client.create_run(b, run_name=f"b-{i}")
    return a, b


def test_the_count_follows_the_filter_the_experiments_and_the_view(tracking_uri):
    a, b = seed(TrackingClient(tracking_uri))
    store = tracking_store(tracking_uri)
    assert count_runs(store, [a], "", ViewType.ACTIVE_ONLY) == (6, True)
    assert count_runs(store, [a, b], "", ViewType.ACTIVE_ONLY) == (9, True)
    assert count_runs(store, [a], "metrics.acc >= 0.3", ViewType.ACTIVE_ONLY) == (3, True)
    assert count_runs(store, [a], "", ViewType.ALL) == (7, True)
    assert count_runs(store, [a], "", ViewType.DELETED_ONLY) == (1, True)


def test_past_the_cap_the_count_is_a_lower_bound_said_so(tracking_uri):
    a, _ = seed(TrackingClient(tracking_uri))
    store = tracking_store(tracking_uri)
    assert count_runs(store, [a], "", ViewType.ACTIVE_ONLY, cap=6) == (6, True)
    assert count_runs(store, [a], "", ViewType.ACTIVE_ONLY, cap=4) == (4, False)


def test_a_count_with_a_bad_filter_says_what_is_wrong(tracking_uri):
    a, _ = seed(TrackingClient(tracking_uri))
    with pytest.raises(FilterSyntaxError):
        count_runs(tracking_store(tracking_uri), [a], "metrics.acc >>> 1", ViewType.ACTIVE_ONLY)


async def fetch_runs(jp_fetch, **params: str) -> dict:
    response = await jp_fetch("notebook-tracker", "api", "runs", params=params)
    return json.loads(response.body)


async def test_the_listing_counts_every_matching_run_only_when_asked(jp_fetch, tracking_uri):
    a, b = seed(TrackingClient(tracking_uri))
    plain = await fetch_runs(jp_fetch, experiment_ids=a, max_results="2")
    assert plain["total"] is None and "total_exact" not in plain
    counted = await fetch_runs(
        jp_fetch, experiment_ids=a, max_results="2", count="true", filter="metrics.acc > 0.1"
    )
    assert len(counted["runs"]) == 2 and counted["next_page_token"]
    assert counted["total"] == 4 and counted["total_exact"] is True
    everything = await fetch_runs(jp_fetch, max_results="1", count="true")
    assert everything["total"] == 9


async def test_a_bad_count_value_is_refused_with_what_to_send(jp_fetch, tracking_uri):
    with pytest.raises(HTTPClientError) as info:
        await fetch_runs(jp_fetch, count="yes")
    assert info.value.code == 400
    message = json.loads(info.value.response.body)["message"]
    assert "'count'" in message and "'true'" in message


def test_a_count_over_its_time_budget_says_it_does_not_know(tracking_uri, monkeypatch):
    from notebook_tracker.store import sql_run_count

    a, _ = seed(TrackingClient(tracking_uri))
    store = tracking_store(tracking_uri)
    monkeypatch.setattr(sql_run_count, "_STEPS", 1)  # look at the clock at every step
    assert count_runs(store, [a], "", ViewType.ACTIVE_ONLY, budget_s=0) == (None, False)
    # The connection is fine afterwards: the next count answers.
    assert count_runs(store, [a], "", ViewType.ACTIVE_ONLY) == (6, True)

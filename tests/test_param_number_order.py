"""The sidebar's order of a param: numbers by value ("9" before "10"), then text by code
point, then runs without it, in either direction; the same whether one page or many, on
SQLite and PostgreSQL; MLflow's text order stays the default of the API."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store.factory import tracking_store
from notebook_tracker.store.sql_run_rows import search_run_rows

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# Values of param "lr", and how the number-aware order puts them (ascending).
VALUES = ["10", "9", "0.5", "-1", "1e-3", " 12", "+3", ".25", "abc", "Abc", "0x10", "1-2", ""]
NUMBERS_UP = ["-1", "1e-3", ".25", "0.5", "+3", "9", "10", " 12"]
TEXTS_UP = ["", "0x10", "1-2", "Abc", "abc"]  # code point order


def seed(client: TrackingClient) -> str:
    exp = client.create_experiment("lr")
    for i, value in enumerate(VALUES):
        run = client.create_run(exp, run_name=f"v{i}", start_time=1_000 + i)
        client.log_param(run.info.run_id, "lr", value)
    client.create_run(exp, run_name="none", start_time=999)  # no lr at all
    return exp


def listed(store, exp: str, order: str, page: int, number_aware: bool = True) -> list[str]:
    """The lr values (None: no lr) of every run, paged `page` runs at a time."""
    out: list[str | None] = []
    token = None
    while True:
        rows, token = search_run_rows(
            store, [exp], "", ViewType.ACTIVE_ONLY, page, [order], token, number_aware=number_aware
        )
        out += [row["params"].get("lr") for row in rows]
        if token is None:
            return out


@pytest.mark.parametrize("page", [100, 3])
def test_numeric_params_sort_by_value_then_text_then_missing(client, page: int) -> None:
    exp = seed(client)
    store = tracking_store(client.tracking_uri)
    assert listed(store, exp, "params.lr ASC", page) == NUMBERS_UP + TEXTS_UP + [None]
    down = NUMBERS_UP[::-1] + TEXTS_UP[::-1] + [None]
    assert listed(store, exp, "params.lr DESC", page) == down


def test_the_api_keeps_mlflows_text_order_unless_asked(client) -> None:
    exp = seed(client)
    store = tracking_store(client.tracking_uri)
    got = listed(store, exp, "params.lr ASC", 100, number_aware=False)
    assert got == sorted(VALUES) + [None]


def test_a_page_token_of_the_text_order_is_refused_by_the_number_order(client) -> None:
    exp = seed(client)
    store = tracking_store(client.tracking_uri)
    args = (store, [exp], "", ViewType.ACTIVE_ONLY, 3, ["params.lr ASC"])
    _, token = search_run_rows(*args, None)
    with pytest.raises(InvalidParameter):
        search_run_rows(*args, token, number_aware=True)


@pytest.fixture
def jp_server_config(tracking_uri: str) -> dict:
    return {"ServerApp": {"jpserver_extensions": {"notebook_tracker": True}}}


async def test_the_sidebar_listing_orders_params_as_numbers_when_asked(jp_fetch, tracking_uri):
    exp = seed(TrackingClient(tracking_uri))
    params = {"experiment_ids": exp, "order_by": "params.`lr` DESC", "max_results": "4"}
    response = await jp_fetch(
        "notebook-tracker", "api", "runs", params={**params, "param_order": "numbers"}
    )
    runs = json.loads(response.body)["runs"]
    assert [r["params"]["lr"] for r in runs] == NUMBERS_UP[::-1][:4]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("notebook-tracker", "api", "runs", params={**params, "param_order": "num"})
    assert info.value.code == 400
    assert "'param_order'" in json.loads(info.value.response.body)["message"]

"""A filter on the metric a search orders by (sql_search.py reads it from the order's join,
not a semi-join of its own) matches exactly the runs MLflow's rules say, on every dialect and
across pages: a run without the metric never matches, NaN matches only `!=`."""

from __future__ import annotations

import math
import operator

import pytest
from helpers import all_page_ids

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param

_OPS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}


def _seed(client: TrackingClient) -> tuple[str, dict[str, float | None]]:
    exp = client.create_experiment("filter-on-order")
    acc: dict[str, float | None] = {}
    for i in range(30):
        rid = client.create_run(exp, start_time=1000 + i % 9).info.run_id
        # Runs without the metric and NaN runs on both sides of the params filter.
        value = None if i % 5 == 0 else math.nan if i % 7 == 0 else float(i % 4)
        metrics = [] if value is None else [Metric("acc", value, 1, 0)]
        metrics.append(Metric("loss", float(i % 3), 1, 0))
        client.store.log_batch(rid, metrics, [Param("lr", str(i % 2))], [])
        acc[rid] = value
    return exp, acc


def _matches(value: float | None, op: str, bound: int) -> bool:
    if value is None:
        return False
    if math.isnan(value):
        return op == "!="
    return _OPS[op](value, bound)


@pytest.mark.parametrize("op", list(_OPS))
def test_a_filter_on_the_ordered_metric_matches_as_mlflow_says_on_every_page(
    client: TrackingClient, op: str
):
    exp, acc = _seed(client)
    # NaN is stored as 0.0 beside is_nan: a bound of 0 tells the two apart.
    for bound, order in (
        (0, ["metrics.acc DESC"]),
        (2, ["metrics.acc"]),
        (0, ["metrics.loss", "metrics.acc DESC"]),
    ):
        expected = {rid for rid, value in acc.items() if _matches(value, op, bound)}
        flt = f"metrics.acc {op} {bound} and params.lr = '1'"
        whole = client.store.search_runs([exp], flt, "ACTIVE_ONLY", 100, order)
        ids = [r.info.run_id for r in whole]
        lr_one = {r.info.run_id for r in whole if r.data.params["lr"] == "1"}
        assert lr_one == set(ids), (op, bound, order)
        assert set(ids) == {
            rid for rid in expected if client.get_run(rid).data.params["lr"] == "1"
        }, (op, bound, order)
        for size in (1, 3):
            assert all_page_ids(client, exp, flt, order, size) == ids, (op, bound, order, size)


def test_the_ordered_metric_filtered_twice_keeps_both_bounds(client: TrackingClient):
    exp, acc = _seed(client)
    flt = "metrics.acc >= 1 and metrics.acc < 3"
    found = client.store.search_runs([exp], flt, "ACTIVE_ONLY", 100, ["metrics.acc DESC"])
    got = [r.data.metrics["acc"] for r in found]
    assert got == sorted((v for v in acc.values() if v is not None and 1 <= v < 3), reverse=True)

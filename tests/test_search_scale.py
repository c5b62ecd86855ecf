"""Run search results at scale: the DataFrame read column-wise agrees with the Run objects of
the list path, and pages found by key return every run exactly once, in order, on SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import json
import math

import pandas as pd
import pytest
from sqlalchemy import update

import notebook_tracker as nt
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.frames import columns_to_frame, runs_to_frame
from notebook_tracker.store.schema import runs as runs_t
from notebook_tracker.store.sql_run_rows import search_run_rows

ORDERS = [
    None,
    ["metrics.loss"],
    ["metrics.loss DESC"],
    ["params.model DESC"],
    ["tags.team"],
    ["end_time"],
    ["attributes.run_name DESC", "metrics.loss"],
    ["start_time ASC"],
    ["run_id DESC"],
]


def seed(client: TrackingClient, n: int = 40) -> list[str]:
    """Runs with ties, NaN and missing metrics, missing params and tags, NULL end times,
    a NULL start time, nested runs, and one deleted run; returns the experiment ids."""
    exps = [client.create_experiment("scale-a"), client.create_experiment("scale-b")]
    parent = None
    for i in range(n):
        exp = exps[i % 2]
        run = client.create_run(exp, run_name=f"run-{i % 5}", start_time=1000 + i // 3)  # ties
        rid = run.info.run_id
        if i in (7, 8):  # no start time: only a run written by another client could lack one
            with client.store.writer.begin() as conn:
                conn.execute(update(runs_t).where(runs_t.c.run_uuid == rid).values(start_time=None))
        metrics = []
        if i % 4 != 1:
            value = math.nan if i % 9 == 0 else round((i * 7 % 11) / 10, 1)
            metrics.append(Metric("loss", value, 1000 + i, 3))
        if i % 3 == 0:
            metrics.append(Metric("acc", i / n, 1000 + i, 0))
        params = [Param("model", ["cnn", "rnn", "mlp"][i % 3])] if i % 5 != 2 else []
        if i % 2 == 0:
            params.append(Param("lr", str(i % 4 / 10)))
        tags = [RunTag("team", ["ml", "ML", "data"][i % 3])] if i % 6 != 4 else []
        if parent is not None and i % 4 == 0:
            tags.append(RunTag("mlflow.parentRunId", parent))
        client.store.log_batch(rid, metrics, params, tags)
        if i % 3 != 0:
            client.set_terminated(rid, "FINISHED", end_time=5000 + i % 4)
        parent = parent or rid
        if i == 11:
            client.delete_run(rid)
    return exps


def all_pages(client, exps, order_by, page_size, filter_string="", view="ACTIVE_ONLY"):
    ids, token, pages = [], None, 0
    while True:
        page = client.search_runs(exps, filter_string, view, page_size, order_by, token)
        ids += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            return ids, pages


def test_pages_return_each_run_once_in_the_order_of_one_big_page(client):
    exps = seed(client)
    for order_by in ORDERS:
        whole = [r.info.run_id for r in client.search_runs(exps, "", "ALL", 1000, order_by)]
        assert len(whole) == len(set(whole)) == 40
        for size in (3, 7):
            paged, pages = all_pages(client, exps, order_by, size, view="ALL")
            assert paged == whole, order_by
            assert pages == math.ceil(40 / size)  # the last page is known to be last


def test_column_pages_hold_only_the_info_and_page_like_the_list_for_every_order(client):
    # The order keys are selected once when they are info columns (the default order) and
    # after them otherwise; either way a page's info is the six fields and its token resumes
    # right after its last run.
    exps = seed(client)
    for order_by in ORDERS:
        whole = [r.info.run_id for r in client.search_runs(exps, "", "ALL", 1000, order_by)]
        paged, token = [], None
        while True:
            columns, token = client.search_run_columns(exps, "", "ALL", 7, order_by, token)
            assert {len(row) for row in columns.info} == {6}, order_by
            paged += [row[0] for row in columns.info]
            if not token:
                break
        assert paged == whole, order_by


def test_pages_of_a_filtered_search_in_one_experiment(client):
    exps = seed(client)
    order = ["metrics.loss DESC"]
    whole = [
        r.info.run_id
        for r in client.search_runs([exps[0]], "params.model != 'mlp'", order_by=order)
    ]
    paged, _ = all_pages(client, [exps[0]], order, 2, "params.model != 'mlp'")
    assert paged == whole and 0 < len(whole) < 20


def test_the_sidebar_rows_and_search_runs_share_tokens(client):
    exps = seed(client)
    page = client.search_runs(exps, "", "ALL", 6, ["metrics.loss"])
    rows, _ = search_run_rows(client.store, exps, "", "ALL", 6, ["metrics.loss"], page.token)
    nxt = client.search_runs(exps, "", "ALL", 6, ["metrics.loss"], page.token)
    assert [r["run_id"] for r in rows] == [r.info.run_id for r in nxt]


def test_a_token_from_another_search_is_refused_with_a_clear_error(client):
    exps = seed(client)
    token = client.search_runs(exps, "", "ALL", 5, ["metrics.loss"]).token
    with pytest.raises(InvalidParameter, match="belongs to a different search"):
        client.search_runs(exps, "", "ALL", 5, ["params.model"], token)
    with pytest.raises(InvalidParameter, match="belongs to a different search"):
        client.search_runs(exps, "metrics.loss > 0", "ALL", 5, ["metrics.loss"], token)


def _forged(query: str, after: list) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after, "q": query}).encode()).decode()


def test_forged_or_garbled_tokens_are_refused_not_sent_to_sql(client):
    exps = seed(client)
    token = client.search_runs(exps, "", "ALL", 5).token
    query = json.loads(base64.urlsafe_b64decode(token))["q"]
    for after in ([], [1, "x", 3], ["soon", "abc"], [2**70, "abc"], [{"a": 1}, "x"], [1, None]):
        with pytest.raises(InvalidParameter, match="Invalid page_token"):
            client.search_runs(exps, "", "ALL", 5, None, _forged(query, after))
    for bad in ("%%%", "e30=", token[:-4]):
        with pytest.raises(InvalidParameter, match="Invalid page_token"):
            client.search_runs(exps, "", "ALL", 5, None, bad)


def _frame(client, exps, order_by=None, view="ALL", filter_string=""):
    found, token = client.search_run_columns(exps, filter_string, view, 1000, order_by)
    assert token is None
    return columns_to_frame(found)


def test_dataframe_read_by_columns_equals_the_one_built_from_runs(client):
    exps = seed(client)
    for order_by in (None, ["metrics.loss DESC"], ["params.model"]):
        runs = client.search_runs(exps, "", "ALL", 1000, order_by)
        expected = runs_to_frame(list(runs))
        got = _frame(client, exps, order_by)
        pd.testing.assert_frame_equal(got, expected)
        assert list(got.columns[:6]) == [
            "run_id",
            "experiment_id",
            "status",
            "artifact_uri",
            "start_time",
            "end_time",
        ]
        assert got["run_id"].tolist() == [r.info.run_id for r in runs]


def test_dataframe_has_nan_for_nan_and_missing_metrics_and_none_for_missing_strings(client):
    exps = seed(client)
    frame = _frame(client, exps).set_index("run_id")
    runs = {r.info.run_id: r for r in client.search_runs(exps, "", "ALL", 1000)}
    nan_run = next(i for i, r in runs.items() if math.isnan(r.data.metrics.get("loss", 0.0)))
    no_loss = next(i for i, r in runs.items() if "loss" not in r.data.metrics)
    assert math.isnan(frame.loc[nan_run, "metrics.loss"])
    assert math.isnan(frame.loc[no_loss, "metrics.loss"])
    no_model = next(i for i, r in runs.items() if "model" not in r.data.params)
    assert frame.loc[no_model, "params.model"] is None or pd.isna(
        frame.loc[no_model, "params.model"]
    )
    child = next(i for i, r in runs.items() if "mlflow.parentRunId" in r.data.tags)
    assert (
        frame.loc[child, "tags.mlflow.parentRunId"] == runs[child].data.tags["mlflow.parentRunId"]
    )
    for rid, run in runs.items():
        assert frame.loc[rid, "experiment_id"] == run.info.experiment_id
        assert frame.loc[rid, "params.model"] == run.data.params.get("model") or (
            "model" not in run.data.params
        )


def test_fluent_search_runs_pages_into_one_frame_and_keeps_the_list_output(client, monkeypatch):
    from notebook_tracker import fluent_read

    exps = seed(client)
    monkeypatch.setattr(fluent_read, "SEARCH_MAX_RESULTS_THRESHOLD", 4)  # ten pages
    frame = nt.search_runs(exps, order_by=["metrics.loss"])
    listed = nt.search_runs(exps, order_by=["metrics.loss"], output_format="list")
    assert frame["run_id"].tolist() == [r.info.run_id for r in listed]
    assert len(listed) == 39  # the deleted run is not active
    pd.testing.assert_frame_equal(frame, runs_to_frame(listed))
    assert len(nt.search_runs(exps, max_results=10)) == 10
    with pytest.raises(InvalidParameter, match="output_format"):
        nt.search_runs(exps, output_format="arrow")


def test_an_empty_search_is_an_empty_frame_with_the_info_columns(client):
    exps = seed(client, 2)
    frame = nt.search_runs(exps, "metrics.loss > 100")
    assert len(frame) == 0
    assert list(frame.columns) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]


def _metric_order(run, key: str, descending: bool) -> tuple:
    value = run.data.metrics.get(key)
    rank = 2 if value is None else 1 if math.isnan(value) else 0
    number = 0.0 if rank else (-value if descending else value)
    start = run.info.start_time
    return (rank, number, start is None, -(start or 0), run.info.run_id)


@pytest.mark.parametrize("descending", [False, True])
def test_a_metric_first_order_is_numbers_then_nan_then_missing_on_every_page(client, descending):
    exps = seed(client)
    runs = list(client.search_runs(exps, "", "ALL", 1000))
    order = ["metrics.loss DESC" if descending else "metrics.loss", "attributes.start_time DESC"]
    expected = [
        r.info.run_id for r in sorted(runs, key=lambda r: _metric_order(r, "loss", descending))
    ]
    for size in (1, 4, 100):
        paged, _ = all_pages(client, exps, order, size, view="ALL")
        assert paged == expected, size
    filtered = "metrics.loss >= 0.3 and params.model != 'mlp'"
    by_id = {r.info.run_id: r for r in runs}

    def matches(run) -> bool:  # a param compared with != must be there, as in MLflow
        loss, model = run.data.metrics.get("loss"), run.data.params.get("model")
        return loss is not None and loss >= 0.3 and model is not None and model != "mlp"

    wanted = [rid for rid in expected if matches(by_id[rid])]
    for size in (1, 3, 100):
        paged, _ = all_pages(client, exps, order, size, filtered, view="ALL")
        assert paged == wanted and wanted, size

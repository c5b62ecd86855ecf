"""The SQL store keeps what users log, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import math

import pytest

from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import AlreadyExists, InvalidParameter, NotFound
from notebook_tracker.store import forget_stores
from notebook_tracker.store.sql import SqlStore


@pytest.fixture
def store(store_uri, tmp_path):
    forget_stores()
    return SqlStore(store_uri, default_artifact_root=str(tmp_path / "artifacts"))


def _run(store, exp_id="0", **kw):
    return store.create_run(exp_id, user_id="tester", start_time=1000, **kw)


def test_default_experiment_exists_in_a_new_store(store, tmp_path):
    exp = store.get_experiment("0")
    assert exp.name == "Default"
    assert exp.artifact_location == str(tmp_path / "artifacts" / "0")


def test_experiment_names_are_unique_even_when_deleted(store):
    exp_id = store.create_experiment("a", tags={"owner": "me"})
    assert store.get_experiment(exp_id).tags == {"owner": "me"}
    store.delete_experiment(exp_id)
    with pytest.raises(AlreadyExists):
        store.create_experiment("a")
    store.restore_experiment(exp_id)
    assert store.get_experiment_by_name("a").lifecycle_stage == "active"


def test_rename_experiment_and_clash(store):
    a = store.create_experiment("a")
    store.create_experiment("b")
    store.rename_experiment(a, "c")
    assert store.get_experiment(a).name == "c"
    with pytest.raises(AlreadyExists):
        store.rename_experiment(a, "b")


def test_deleting_an_experiment_deletes_its_runs_and_restoring_restores_them(store):
    exp = store.create_experiment("x")
    run = _run(store, exp)
    store.delete_experiment(exp)
    assert store.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    store.restore_experiment(exp)
    assert store.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_default_experiment_cannot_be_deleted(store):
    with pytest.raises(InvalidParameter, match="Default"):
        store.delete_experiment("0")


def test_unknown_ids_are_not_found(store):
    with pytest.raises(NotFound):
        store.get_experiment("999")
    with pytest.raises(NotFound):
        store.get_experiment("abc")
    with pytest.raises(NotFound):
        store.get_run("nope")
    with pytest.raises(NotFound):
        store.log_batch("nope", params=[Param("a", "b")])


def test_run_fields_and_artifact_uri(store, tmp_path):
    run = _run(store, tags={"k": "v"}, run_name="first")
    info = run.info
    assert info.status == "RUNNING" and info.run_name == "first" and info.user_id == "tester"
    assert info.artifact_uri == f"{tmp_path / 'artifacts' / '0'}/{info.run_id}/artifacts"
    assert run.data.tags["k"] == "v" and run.data.tags["mlflow.user"] == "tester"
    ended = store.update_run_info(info.run_id, status="FINISHED", end_time=2000)
    assert (ended.status, ended.end_time) == ("FINISHED", 2000)
    with pytest.raises(InvalidParameter, match="Invalid run status"):
        store.update_run_info(info.run_id, status="DONE")


def test_batch_logging_params_tags_and_metrics(store):
    run_id = _run(store).info.run_id
    store.log_batch(
        run_id,
        metrics=[Metric("loss", 1.0, 10, 0), Metric("loss", 0.5, 20, 1), Metric("loss", 9.0, 5, 0)],
        params=[Param("lr", "0.1")],
        tags=[RunTag("t", "1")],
    )
    store.log_batch(run_id, tags=[RunTag("t", "2")])
    data = store.get_run(run_id).data
    assert data.metrics == {"loss": 0.5}  # latest by step, then timestamp
    assert data.params == {"lr": "0.1"} and data.tags["t"] == "2"
    history = store.get_metric_history(run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (0, 5, 9.0),
        (0, 10, 1.0),
        (1, 20, 0.5),
    ]


def test_latest_metric_is_not_replaced_by_an_older_step_logged_later(store):
    run_id = _run(store).info.run_id
    store.log_metric_rows([(run_id, "acc", 0.9, 100, 10)])
    store.log_metric_rows([(run_id, "acc", 0.1, 200, 3)])
    assert store.get_run(run_id).data.metrics["acc"] == 0.9


def test_nan_and_inf_survive_the_database(store):
    run_id = _run(store).info.run_id
    store.log_metric_rows(
        [
            (run_id, "a", math.nan, 1, 0),
            (run_id, "b", math.inf, 1, 0),
            (run_id, "c", -math.inf, 1, 0),
        ]
    )
    data = store.get_run(run_id).data.metrics
    assert math.isnan(data["a"]) and data["b"] == math.inf and data["c"] == -math.inf
    assert math.isnan(store.get_metric_history(run_id, "a")[0].value)


def test_history_pages_with_tokens(store):
    run_id = _run(store).info.run_id
    store.log_metric_rows([(run_id, "m", float(i), i, i) for i in range(25)])
    seen, token = [], None
    while True:
        page = store.get_metric_history(run_id, "m", max_results=10, page_token=token)
        seen.extend(m.step for m in page)
        token = page.token
        if not token:
            break
    assert seen == list(range(25))


def test_search_pages_cover_every_run_once(store):
    ids = {_run(store).info.run_id for _ in range(7)}
    seen, token = [], None
    while True:
        page = store.search_runs(["0"], max_results=3, page_token=token)
        seen.extend(r.info.run_id for r in page)
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(ids)


def test_search_filters_and_orders_in_sql(store):
    runs = []
    for i, (lr, acc) in enumerate([("0.1", 0.5), ("0.01", 0.9), ("0.01", 0.7)]):
        run_id = _run(store).info.run_id
        store.log_batch(
            run_id,
            metrics=[Metric("acc", acc, 1, 0)],
            params=[Param("lr", lr)],
            tags=[RunTag("i", str(i))],
        )
        runs.append(run_id)
    found = store.search_runs(
        ["0"], "params.lr = '0.01' and metrics.acc > 0.6", order_by=["metrics.acc ASC"]
    )
    assert [r.info.run_id for r in found] == [runs[2], runs[1]]


def test_bad_page_token_and_max_results_are_clear_errors(store):
    with pytest.raises(InvalidParameter, match="page_token"):
        store.search_runs(["0"], page_token="garbage!")
    with pytest.raises(InvalidParameter, match="max_results"):
        store.search_runs(["0"], max_results=50001)


def test_logging_to_a_deleted_run_is_refused(store):
    run_id = _run(store).info.run_id
    store.delete_run(run_id)
    with pytest.raises(InvalidParameter, match="deleted"):
        store.log_batch(run_id, params=[Param("a", "1")])


def test_purge_removes_a_run_for_good(store):
    run_id = _run(store).info.run_id
    store.log_metric_rows([(run_id, "m", 1.0, 1, 0)])
    store.delete_run(run_id)
    assert [r.run_id for r in store.deleted_runs()] == [run_id]
    store.purge_run(run_id)
    with pytest.raises(NotFound):
        store.get_run(run_id)

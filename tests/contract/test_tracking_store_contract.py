"""The TrackingStore contract: SQLite, PostgreSQL and REST (a real server) answer alike."""

from __future__ import annotations

import math
import time

import pytest

from notebook_tracker.entities import Metric, Param, RunStatus, RunTag, ViewType
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.store.factory import tracking_store


def _now() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def store(store_uri):
    return tracking_store(store_uri)


@pytest.fixture
def experiment_id(store, unique) -> str:
    return store.create_experiment(f"contract-{unique}", tags={"team": "ml"})


def _run(store, experiment_id, name="r", **kwargs):
    return store.create_run(experiment_id, "alice", _now(), run_name=name, **kwargs)


def test_an_experiment_reads_back_by_id_and_name_and_can_be_renamed_and_deleted(
    store, experiment_id, unique
):
    exp = store.get_experiment(experiment_id)
    assert exp.name == f"contract-{unique}" and exp.tags["team"] == "ml"
    assert store.get_experiment_by_name(f"contract-{unique}").experiment_id == experiment_id
    store.rename_experiment(experiment_id, f"renamed-{unique}")
    assert store.get_experiment(experiment_id).name == f"renamed-{unique}"
    store.delete_experiment(experiment_id)
    found = store.search_experiments(filter_string=f"name = 'renamed-{unique}'")
    assert [e.experiment_id for e in found] == []
    store.restore_experiment(experiment_id)
    found = store.search_experiments(filter_string=f"name LIKE 'renamed-{unique}%'")
    assert [e.experiment_id for e in found] == [experiment_id]


def test_an_experiment_tag_can_be_deleted_and_a_missing_one_is_not_found(store, experiment_id):
    store.set_experiment_tag(experiment_id, "stage", "draft")
    store.delete_experiment_tag(experiment_id, "stage")
    assert store.get_experiment(experiment_id).tags == {"team": "ml"}
    with pytest.raises(NotFound, match="stage"):
        store.delete_experiment_tag(experiment_id, "stage")
    with pytest.raises(NotFound):
        store.delete_experiment_tag("987654321", "team")


def test_a_logged_batch_reads_back_whole(store, experiment_id):
    run = _run(store, experiment_id, tags={"stage": "dev"})
    run_id = run.info.run_id
    store.log_batch(
        run_id,
        metrics=[Metric("loss", 0.5, 1, 0), Metric("loss", 0.25, 2, 1), Metric("acc", math.nan, 3)],
        params=[Param("lr", "0.1")],
        tags=[RunTag("note", "first")],
    )
    got = store.get_run(run_id)
    assert got.info.run_name == "r" and got.info.status == RunStatus.RUNNING
    assert got.data.params == {"lr": "0.1"}
    assert got.data.tags["note"] == "first" and got.data.tags["stage"] == "dev"
    assert got.data.metrics["loss"] == 0.25 and math.isnan(got.data.metrics["acc"])
    history = store.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.25)]


def test_a_bad_key_is_refused_with_the_same_message_everywhere(store, experiment_id):
    run_id = _run(store, experiment_id).info.run_id
    for batch in (
        {"metrics": [Metric("a/../b", 1.0, 1)]},
        {"params": [Param("a/../b", "1")]},
        {"tags": [RunTag("a/../b", "1")]},
    ):
        with pytest.raises(InvalidParameter) as err:
            store.log_batch(run_id, **batch)
        assert "'a/../b'" in err.value.message and "'..'" in err.value.message
    with pytest.raises(InvalidParameter, match="at most 6000"):
        store.log_batch(run_id, params=[Param("long", "x" * 6001)])
    with pytest.raises(InvalidParameter, match="mlflow.runName"):
        store.log_batch(run_id, tags=[RunTag("mlflow.runName", "n" * 251)])
    assert store.get_run(run_id).data.params == {}
    with pytest.raises(InvalidParameter, match="'a/../b'"):
        store.set_experiment_tag(experiment_id, "a/../b", "x")
    with pytest.raises(InvalidParameter, match="'a/../b'"):
        store.create_run(experiment_id, "alice", _now(), tags={"a/../b": "x"})
    with pytest.raises(InvalidParameter, match="experiment name"):
        store.create_experiment("")


def test_a_refused_batch_writes_nothing_of_itself(store, experiment_id):
    run_id = _run(store, experiment_id).info.run_id
    store.log_batch(run_id, params=[Param("lr", "0.1")])
    with pytest.raises(InvalidParameter):
        store.log_batch(
            run_id, metrics=[Metric("m", 1.0, 1)], params=[Param("lr", "0.2")]
        )  # a param cannot change
    got = store.get_run(run_id)
    assert got.data.params == {"lr": "0.1"} and "m" not in got.data.metrics


def test_search_filters_orders_and_pages_runs(store, experiment_id):
    for i, loss in enumerate([0.9, 0.1, 0.5, 0.3]):
        run_id = _run(store, experiment_id, name=f"run-{i}").info.run_id
        store.log_batch(run_id, metrics=[Metric("loss", loss, 1)], params=[Param("i", str(i))])
    found = store.search_runs(
        [experiment_id], "metrics.loss < 0.6", order_by=["metrics.loss ASC"], max_results=2
    )
    assert [r.data.metrics["loss"] for r in found] == [0.1, 0.3]
    assert found.token
    rest = store.search_runs(
        [experiment_id],
        "metrics.loss < 0.6",
        order_by=["metrics.loss ASC"],
        max_results=2,
        page_token=found.token,
    )
    assert [r.data.metrics["loss"] for r in rest] == [0.5] and not rest.token
    by_param = store.search_runs([experiment_id], "params.i = '3'")
    assert [r.info.run_name for r in by_param] == ["run-3"]


def test_ended_deleted_and_restored_runs(store, experiment_id):
    run_id = _run(store, experiment_id).info.run_id
    info = store.update_run_info(run_id, status=RunStatus.FINISHED, end_time=_now())
    assert info.status == RunStatus.FINISHED
    store.delete_run(run_id)
    assert store.search_runs([experiment_id]) == []
    deleted = store.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    store.restore_run(run_id)
    assert [r.info.run_id for r in store.search_runs([experiment_id])] == [run_id]


def test_a_tag_can_be_deleted(store, experiment_id):
    run_id = _run(store, experiment_id, tags={"x": "1"}).info.run_id
    store.delete_tag(run_id, "x")
    assert "x" not in store.get_run(run_id).data.tags


def test_unknown_ids_are_not_found(store):
    with pytest.raises(NotFound):
        store.get_run("0" * 32)
    with pytest.raises(NotFound):
        store.get_experiment("987654")

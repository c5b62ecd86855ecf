"""The LoggedModelStore contract: SQLite, PostgreSQL and REST (a real server) answer alike."""

from __future__ import annotations

import math
import time

import pytest

from notebook_tracker.entities import Metric
from notebook_tracker.entities.logged_models import PENDING, READY, DatasetInput, ModelMetric
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.store.factory import logged_model_store, tracking_store


def _now() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def tracking(store_uri):
    return tracking_store(store_uri)


@pytest.fixture
def models(store_uri):
    return logged_model_store(store_uri)


@pytest.fixture
def experiment_id(tracking, unique) -> str:
    return tracking.create_experiment(f"models-{unique}")


@pytest.fixture
def run_id(tracking, experiment_id) -> str:
    return tracking.create_run(experiment_id, "alice", _now()).info.run_id


def test_a_model_is_created_pending_then_finalized_tagged_and_deleted(
    models, experiment_id, run_id
):
    model = models.create(
        experiment_id, "clf", "sklearn", run_id, params={"alpha": "0.5"}, tags={"t": "1"}
    )
    assert model.status == PENDING and model.name == "clf" and model.source_run_id == run_id
    assert model.artifact_uri.endswith(f"/models/{model.model_id}/artifacts")
    assert models.finalize(model.model_id, READY).status == READY
    tagged = models.set_tags(model.model_id, {"stage": "prod"})
    assert tagged.tags == {"t": "1", "stage": "prod"} and tagged.params == {"alpha": "0.5"}
    models.delete_tag(model.model_id, "t")
    assert models.get(model.model_id).tags == {"stage": "prod"}
    models.delete(model.model_id)
    with pytest.raises(NotFound, match=model.model_id):
        models.get(model.model_id)


def test_params_are_written_once_and_bad_keys_are_refused(models, experiment_id):
    model_id = models.create(experiment_id, "m").model_id
    models.log_params(model_id, {"alpha": "0.5"})
    with pytest.raises(InvalidParameter, match="cannot change"):
        models.log_params(model_id, {"alpha": "0.6"})
    for bad in (
        lambda: models.set_tags(model_id, {"a/../b": "x"}),
        lambda: models.log_params(model_id, {"a/../b": "x"}),
        lambda: models.create(experiment_id, "m", tags={"a/../b": "x"}),
    ):
        with pytest.raises(InvalidParameter) as err:
            bad()
        assert "'a/../b'" in err.value.message
    with pytest.raises(InvalidParameter, match="at most 500"):
        models.create(experiment_id, "n" * 501)
    with pytest.raises(InvalidParameter, match="finalize"):
        models.finalize(model_id, PENDING)


def test_unknown_experiments_runs_and_models_are_not_found(models, experiment_id):
    with pytest.raises(NotFound):
        models.create("987654", "m")
    with pytest.raises(NotFound):
        models.create(experiment_id, "m", source_run_id="0" * 32)
    with pytest.raises(NotFound):
        models.get("m-" + "0" * 32)


def test_a_runs_points_for_a_model_land_on_both_in_one_batch(
    tracking, models, experiment_id, run_id
):
    model_id = models.create(experiment_id, "m").model_id
    point = ModelMetric("acc", 0.9, _now(), 3, run_id, "train", "abc", model_id)
    tracking.log_batch(run_id, metrics=[Metric("loss", 0.1, _now())], model_metrics=[point])
    assert tracking.get_run(run_id).data.metrics == {"loss": 0.1, "acc": 0.9}
    (got,) = models.get(model_id).metrics
    assert (got.key, got.value, got.step, got.run_id, got.dataset_name) == (
        "acc", 0.9, 3, run_id, "train"
    )  # fmt: skip
    missing = ModelMetric("acc", 0.5, _now(), 4, run_id, model_id="m-" + "1" * 32)
    with pytest.raises(NotFound):
        tracking.log_batch(
            run_id, metrics=[Metric("loss", 7.0, _now(), 9)], model_metrics=[missing]
        )
    history = tracking.get_metric_history(run_id, "loss")
    assert [m.value for m in history] == [0.1]  # the refused batch wrote nothing


def _searchable(tracking, models, experiment_id, run_id) -> dict[str, str]:
    ids = {}
    for name, acc, alpha in (("a", 0.95, "0.5"), ("b", 0.7, "0.1"), ("c", math.nan, "0.5")):
        model = models.create(experiment_id, f"model-{name}", params={"alpha": alpha})
        ids[name] = model.model_id
        points = [ModelMetric("acc", acc, _now(), 1, run_id, model_id=model.model_id)]
        if name == "a":  # an older point at a lower step does not count
            points.append(ModelMetric("acc", 0.1, _now(), 0, run_id, model_id=model.model_id))
        tracking.log_batch(run_id, model_metrics=points)
    models.finalize(ids["a"], READY)
    models.create(experiment_id, "model-d")
    return ids


def test_search_compiles_the_public_grammar(tracking, models, experiment_id, run_id):
    ids = _searchable(tracking, models, experiment_id, run_id)

    def names(filter_string: str) -> list[str]:
        found = models.search([experiment_id], filter_string, [("name", True)])
        return [m.name for m in found]

    assert names("metrics.acc > 0.8") == ["model-a"]
    assert names("metrics.acc != 0.7") == ["model-a", "model-c"]  # NaN matches only !=
    assert names("params.alpha = '0.5'") == ["model-a", "model-c"]
    assert names("status = 'READY'") == ["model-a"]
    assert names("status = 'LOGGED_MODEL_PENDING' AND name LIKE '%-d'") == ["model-d"]
    assert names(f"model_id IN ('{ids['b']}', '{ids['c']}')") == ["model-b", "model-c"]
    with pytest.raises(InvalidParameter):
        names("bogus = 1")


def test_search_orders_missing_values_last_and_pages(tracking, models, experiment_id, run_id):
    _searchable(tracking, models, experiment_id, run_id)
    for ascending in (True, False):
        found = models.search([experiment_id], order_by=[("metrics.acc", ascending)])
        expected = ["model-b", "model-a"] if ascending else ["model-a", "model-b"]
        assert [m.name for m in found][:2] == expected
        assert sorted(m.name for m in found[2:]) == ["model-c", "model-d"]
    first = models.search([experiment_id], order_by=[("name", False)], max_results=3)
    assert [m.name for m in first] == ["model-d", "model-c", "model-b"] and first.token
    rest = models.search(
        [experiment_id], order_by=[("name", False)], max_results=3, page_token=first.token
    )
    assert [m.name for m in rest] == ["model-a"] and not rest.token
    assert list(models.search(["987654"])) == []


def test_runs_record_their_datasets_and_model_inputs_and_outputs(models, experiment_id, run_id):
    model_id = models.create(experiment_id, "m").model_id
    dataset = DatasetInput("train", "d1", "local", "/data/train.csv", tags={"ctx": "training"})
    models.log_datasets(run_id, [dataset])
    models.link_run(run_id, [(model_id, 2)], "output")
    models.link_run(run_id, [(model_id, 0)], "input")
    io = models.run_io([run_id])[run_id]
    assert io["outputs"] == [(model_id, 2)] and io["inputs"] == [(model_id, 0)]
    (got,) = io["datasets"]
    assert (got.name, got.digest, got.source, got.tags) == (
        "train", "d1", "/data/train.csv", {"ctx": "training"}
    )  # fmt: skip
    with pytest.raises(NotFound):
        models.link_run(run_id, [("m-" + "2" * 32, 0)], "output")
    with pytest.raises(InvalidParameter, match="digest"):
        models.log_datasets(run_id, [DatasetInput("x", "d" * 65, "local", "/x")])

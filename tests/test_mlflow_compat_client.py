"""The stock `mlflow` client, pointed at a standalone notebook-tracker server, works unchanged.

One server (2 workers, SQLite, local artifacts destination) per module; `mlflow` is imported
once (it takes seconds) and talks to the server over loopback like any MLflow user's code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from standalone_server import running_server

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("mlflow-compat")
    with running_server(tmp, f"sqlite:///{tmp / 'tracker.db'}", str(tmp / "artifacts")) as srv:
        srv.artifacts = tmp / "artifacts"  # type: ignore[attr-defined]
        yield srv


@pytest.fixture
def client(server, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    yield MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()


def test_fluent_logging_lands_in_the_run_with_params_metrics_and_tags(client: MlflowClient):
    mlflow.set_experiment("fluent-logging")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"layers": 3, "optimizer": "adam"})
        mlflow.log_metric("loss", 0.9, step=0)
        mlflow.log_metric("loss", 0.4, step=1)
        mlflow.log_metrics({"acc": 0.8, "diverged": float("nan")})
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev"})

    fetched = client.get_run(run.info.run_id)
    assert fetched.info.status == "FINISHED"
    assert fetched.info.end_time is not None
    assert fetched.info.run_name == "first"
    assert fetched.data.params == {"alpha": "0.5", "layers": "3", "optimizer": "adam"}
    assert fetched.data.metrics["loss"] == 0.4
    assert fetched.data.metrics["acc"] == 0.8
    assert fetched.data.metrics["diverged"] != fetched.data.metrics["diverged"]  # NaN survives
    assert fetched.data.tags["team"] == "vision"
    assert fetched.data.tags["stage"] == "dev"
    assert fetched.info.artifact_uri == (
        f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    )


def test_metric_history_returns_every_step_in_order(client: MlflowClient):
    mlflow.set_experiment("history")
    with mlflow.start_run() as run:
        for step in range(50):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(50))
    assert history[-1].value == pytest.approx(1 / 50)


def test_nested_runs_record_their_parent(client: MlflowClient):
    mlflow.set_experiment("nested")
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            mlflow.log_metric("x", 1)
    tags = client.get_run(child.info.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    found = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]


def test_search_runs_filters_orders_and_pages(client: MlflowClient):
    exp_id = mlflow.set_experiment("search").experiment_id
    for i in range(7):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_metric("score", i)
            mlflow.log_param("parity", "even" if i % 2 == 0 else "odd")

    frame = mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string="metrics.score >= 2 AND params.parity = 'even'",
        order_by=["metrics.score DESC"],
    )
    assert list(frame["metrics.score"]) == [6.0, 4.0, 2.0]

    first = client.search_runs([exp_id], order_by=["metrics.score ASC"], max_results=3)
    second = client.search_runs(
        [exp_id], order_by=["metrics.score ASC"], max_results=3, page_token=first.token
    )
    third = client.search_runs(
        [exp_id], order_by=["metrics.score ASC"], max_results=3, page_token=second.token
    )
    scores = [r.data.metrics["score"] for r in [*first, *second, *third]]
    assert scores == [0, 1, 2, 3, 4, 5, 6]
    assert third.token is None


def test_a_bad_filter_is_a_clear_400_error(client: MlflowClient):
    with pytest.raises(MlflowException) as err:
        client.search_runs(["0"], filter_string="metrics.score >>> 2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_text_dict_file_and_directory_artifacts_round_trip(client: MlflowClient, tmp_path: Path):
    mlflow.set_experiment("artifacts")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "data" / "nested").mkdir()
    (tmp_path / "data" / "nested" / "b.txt").write_text("bee")
    (tmp_path / "single.txt").write_text("one file")
    with mlflow.start_run() as run:
        mlflow.log_text("hello notes", "notes/readme.txt")
        mlflow.log_dict({"lr": 0.1}, "config.json")
        mlflow.log_artifact(str(tmp_path / "single.txt"))
        mlflow.log_artifacts(str(tmp_path / "data"), artifact_path="data")

    run_id = run.info.run_id
    top = {f.path: f.is_dir for f in client.list_artifacts(run_id)}
    assert top == {"config.json": False, "data": True, "notes": True, "single.txt": False}
    assert [f.path for f in client.list_artifacts(run_id, "data")] == ["data/a.csv", "data/nested"]

    text_path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes/readme.txt")
    assert Path(text_path).read_text() == "hello notes"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"lr": 0.1}
    local = client.download_artifacts(run_id, "data", str(tmp_path / "out"))
    assert (Path(local) / "nested" / "b.txt").read_text() == "bee"


def test_delete_and_restore_of_runs_and_experiments(client: MlflowClient):
    exp_id = client.create_experiment("lifecycle")
    run = client.create_run(exp_id)
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp_id]) == []
    deleted = client.search_runs([exp_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run.info.run_id]
    client.restore_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_experiments_get_by_name_search_rename_and_tags(client: MlflowClient):
    exp_id = client.create_experiment("to-rename", tags={"owner": "ana"})
    assert client.get_experiment_by_name("missing-experiment") is None
    client.rename_experiment(exp_id, "renamed")
    client.set_experiment_tag(exp_id, "phase", "2")
    exp = client.get_experiment_by_name("renamed")
    assert exp.experiment_id == exp_id
    assert exp.tags == {"owner": "ana", "phase": "2"}
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    found = client.search_experiments(filter_string="name = 'renamed'")
    assert [e.experiment_id for e in found] == [exp_id]
    with pytest.raises(MlflowException) as err:
        client.create_experiment("renamed")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_unknown_ids_are_resource_does_not_exist(client: MlflowClient):
    with pytest.raises(MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.get_experiment("987654")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_changing_a_logged_param_is_refused(client: MlflowClient):
    mlflow.set_experiment("immutable-params")
    with mlflow.start_run():
        mlflow.log_param("lr", 0.1)
        with pytest.raises(MlflowException) as err:
            mlflow.log_param("lr", 0.2)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_delete_tag_removes_it(client: MlflowClient):
    run = client.create_run(client.create_experiment("tags"))
    client.set_tag(run.info.run_id, "temp", "1")
    client.delete_tag(run.info.run_id, "temp")
    assert "temp" not in client.get_run(run.info.run_id).data.tags


class _AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # noqa: ANN001
        return model_input + 1


def test_pyfunc_log_model_then_load_and_predict(client: MlflowClient, server):
    import pandas as pd

    exp_id = mlflow.set_experiment("models").experiment_id
    with mlflow.start_run() as run:
        # pip_requirements: MLflow infers them in a child Python otherwise (seconds); not read here
        info = mlflow.pyfunc.log_model(
            name="adder", python_model=_AddOne(), pip_requirements=["mlflow"]
        )

    model = mlflow.get_logged_model(info.model_id)
    assert model.status == "READY"
    assert model.source_run_id == run.info.run_id
    assert model.artifact_location == f"mlflow-artifacts:/{exp_id}/models/{info.model_id}/artifacts"
    on_disk = server.artifacts / exp_id / "models" / info.model_id / "artifacts" / "MLmodel"
    assert on_disk.is_file()

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert loaded.predict(pd.DataFrame({"a": [1, 2]}))["a"].tolist() == [2, 3]

    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]
    found = mlflow.search_logged_models(
        experiment_ids=[exp_id], filter_string="name = 'adder'", output_format="list"
    )
    assert [m.model_id for m in found] == [info.model_id]

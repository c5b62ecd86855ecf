"""The team setup: a 2-worker server on PostgreSQL and/or S3 artifacts, used by the stock client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from standalone_server import running_server

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402


class _Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # noqa: ANN001
        return model_input * 2


def _log_search_and_fetch(url: str, tmp_path: Path) -> dict:
    """What a typical training script does, then read it all back; returns what was seen."""
    import pandas as pd

    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    exp_id = mlflow.set_experiment("team").experiment_id
    run_ids = []
    for lr in (0.1, 0.01):
        with mlflow.start_run() as run:
            mlflow.log_params({"lr": lr, "epochs": 3})
            for step in range(3):
                mlflow.log_metric("loss", lr * (3 - step), step=step)
            mlflow.log_text(f"lr={lr}", "notes/summary.txt")
            run_ids.append(run.info.run_id)
    with mlflow.start_run(run_id=run_ids[0]):
        # pip_requirements: MLflow infers them in a child Python otherwise (seconds)
        model_info = mlflow.pyfunc.log_model(
            name="doubler", python_model=_Doubler(), pip_requirements=["mlflow"]
        )

    best = mlflow.search_runs(
        experiment_ids=[exp_id], order_by=["metrics.loss ASC"], output_format="list"
    )
    history = client.get_metric_history(run_ids[1], "loss")
    summary = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_ids[1], artifact_path="notes/summary.txt", dst_path=str(tmp_path / "dl")
        )
    ).read_text()
    model = mlflow.pyfunc.load_model(model_info.model_uri)
    return {
        "exp_id": exp_id,
        "run_ids": run_ids,
        "model_id": model_info.model_id,
        "best": [r.info.run_id for r in best],
        "history": [(m.step, m.value) for m in history],
        "summary": summary,
        "prediction": model.predict(pd.DataFrame({"x": [1, 5]}))["x"].tolist(),
        "listing": [f.path for f in client.list_artifacts(run_ids[1], "notes")],
    }


def _check(seen: dict) -> None:
    assert seen["best"] == [seen["run_ids"][1], seen["run_ids"][0]]
    assert seen["history"] == [(0, 0.03), (1, 0.02), (2, 0.01)]
    assert seen["summary"] == "lr=0.01"
    assert seen["prediction"] == [2, 10]
    assert seen["listing"] == ["notes/summary.txt"]


@pytest.mark.postgres
def test_stock_client_through_a_server_on_postgresql(postgres_uri: str, tmp_path: Path):
    with running_server(tmp_path, postgres_uri, str(tmp_path / "artifacts")):
        pass  # first start migrates the fresh database; a restart must find it current
    with running_server(tmp_path, postgres_uri, str(tmp_path / "artifacts")) as server:
        seen = _log_search_and_fetch(server.url, tmp_path)
    _check(seen)
    model_dir = tmp_path / "artifacts" / seen["exp_id"] / "models" / seen["model_id"]
    assert (model_dir / "artifacts" / "MLmodel").is_file()


@pytest.mark.s3
def test_stock_client_artifacts_are_proxied_to_s3(s3_bucket: str, tmp_path: Path):
    import boto3

    destination = f"s3://{s3_bucket}/mlruns"
    with running_server(tmp_path, f"sqlite:///{tmp_path / 't.db'}", destination) as server:
        seen = _log_search_and_fetch(server.url, tmp_path)
    _check(seen)
    s3 = boto3.client("s3", endpoint_url=os.environ["NOTEBOOK_TRACKER_S3_ENDPOINT_URL"])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    run_id = seen["run_ids"][1]
    assert f"mlruns/{seen['exp_id']}/{run_id}/artifacts/notes/summary.txt" in keys
    model_prefix = f"mlruns/{seen['exp_id']}/models/{seen['model_id']}/artifacts/"
    assert f"{model_prefix}MLmodel" in keys


@pytest.mark.postgres
@pytest.mark.s3
def test_team_server_postgresql_and_s3_together(postgres_uri: str, s3_bucket: str, tmp_path: Path):
    with running_server(tmp_path, postgres_uri, f"s3://{s3_bucket}") as server:
        seen = _log_search_and_fetch(server.url, tmp_path)
    _check(seen)

"""The stock `mlflow` client against the Jupyter server extension (the same MLflow handlers).

A real `jupyter server` process with the installed config file; the client reaches
`{base_url}notebook-tracker/api/2.0/mlflow/...` with the Jupyter token as its bearer token.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_process import jupyter_server_process

pytest.importorskip("mlflow")

TOKEN = "mlflow-compat-" + uuid.uuid4().hex

CLIENT_SCRIPT = """
import json, os, sys
import mlflow
from mlflow import MlflowClient
mlflow.set_experiment("from-mlflow")
with mlflow.start_run() as run:
    mlflow.log_params({"lr": 0.1})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_text("hi", "notes/hello.txt")
client = MlflowClient()
found = mlflow.search_runs(filter_string="params.lr = '0.1'", output_format="list")
history = client.get_metric_history(run.info.run_id, "loss")
path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes/hello.txt",
                                           dst_path=sys.argv[1])
print(json.dumps({
    "run_id": run.info.run_id,
    "found": [r.info.run_id for r in found],
    "steps": [m.step for m in history],
    "text": open(path).read(),
}))
"""


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    base = tmp_path_factory.mktemp("jupyter-mlflow")
    store = {"NOTEBOOK_TRACKER_URI": f"sqlite:///{base / 'tracker.db'}"}
    with jupyter_server_process(base, TOKEN, store) as (url, _root, env):
        yield url, base, env


def _run_client(url: str, base: Path, env: dict, token: str) -> subprocess.CompletedProcess:
    client_env = {
        **env,
        "MLFLOW_TRACKING_URI": f"{url}/notebook-tracker",
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    return subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, str(base / f"dl-{uuid.uuid4().hex[:6]}")],
        env=client_env, capture_output=True, text=True, timeout=180, cwd=base,
    )  # fmt: skip


def test_stock_client_logs_searches_and_reads_back_through_jupyter(jupyter):
    url, base, env = jupyter
    done = _run_client(url, base, env, TOKEN)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["found"] == [seen["run_id"]]
    assert seen["steps"] == [0, 1, 2, 3, 4]
    assert seen["text"] == "hi"


def test_stock_client_without_the_jupyter_token_is_refused(jupyter):
    url, base, env = jupyter
    done = _run_client(url, base, env, "not-the-token")
    assert done.returncode != 0
    assert "UNAUTHENTICATED" in done.stderr
    assert "MLFLOW_TRACKING_TOKEN=<jupyter token>" in done.stderr

"""The stock `mlflow` client against the Jupyter server extension (the same MLflow handlers).

A real `jupyter server` process with the installed config file; the client reaches
`{base_url}notebook-tracker/api/2.0/mlflow/...` with the Jupyter token as its bearer token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, wait_until

pytest.importorskip("mlflow")

REPO = Path(__file__).resolve().parent.parent
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


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    base = tmp_path_factory.mktemp("jupyter-mlflow")
    root, config = base / "root", base / "config"
    root.mkdir()
    (config / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(
        REPO / "jupyter-config" / "server-config" / "notebook_tracker.json",
        config / "jupyter_server_config.d" / "notebook_tracker.json",
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOOK_TRACKER_", "JUPYTER"))
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        NOTEBOOK_TRACKER_URI=f"sqlite:///{base / 'tracker.db'}",
    )
    port = free_port()
    log_path = base / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={root}", "--ServerApp.allow_unauthenticated_access=False",
            ],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: proc.poll() is not None or _answers(f"{url}/api/status?token={TOKEN}"),
            timeout=90,
            what="jupyter server",
        )
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{log_path.read_text(errors='replace')}")
        yield url, base, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
    assert "403" in done.stderr or "PERMISSION_DENIED" in done.stderr

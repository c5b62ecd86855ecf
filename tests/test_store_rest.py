"""An http(s):// tracking URI: the client logs and reads through a tracking server's REST API."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.web
from helpers import free_port, wait_until
from server_helpers import ThreadServer

import notebook_tracker as nt
from notebook_tracker import env
from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import AlreadyExists, InvalidParameter, NotFound, TrackerError
from notebook_tracker.store import forget_stores
from notebook_tracker.store.rest import RestStore

pytest_plugins = ("pytest_jupyter.jupyter_server",)

TOKEN = "rest-test-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    """The standalone server's app (SQLite, proxied artifacts, token) in this process."""
    from notebook_tracker.server.standalone import make_app, make_context

    context = make_context(
        f"sqlite:///{tmp_path / 'server' / 'tracker.db'}",
        str(tmp_path / "server" / "artifacts"),
        auth_token=TOKEN,
    )
    running = ThreadServer(make_app(context))
    yield running
    running.stop()
    context.close()


@pytest.fixture
def remote(server: ThreadServer, tracking_uri: str, monkeypatch) -> Iterator[str]:
    """This process's tracking URI and token point at `server`."""
    monkeypatch.setenv(env.TRACKING_URI, server.url)
    monkeypatch.setenv(env.TRACKING_TOKEN, TOKEN)
    yield server.url
    forget_stores()


def test_the_fluent_api_logs_through_the_server(remote, tmp_path):
    nt.set_experiment("remote-exp")
    with nt.start_run(run_name="r1") as run:
        nt.log_params({"lr": 0.1, "layers": 3})
        nt.set_tag("team", "ml")
        for step in range(50):
            nt.log_metric("loss", 1 / (step + 1), step=step)
        nt.log_metric("odd", float("nan"))
        nt.log_text("hello", "notes/readme.txt")
    run_id = run.info.run_id

    client = TrackingClient()
    assert isinstance(client.store, RestStore)
    fetched = client.get_run(run_id)
    assert fetched.info.status == "FINISHED" and fetched.info.run_name == "r1"
    assert fetched.data.params == {"lr": "0.1", "layers": "3"}
    assert fetched.data.tags["team"] == "ml"
    assert fetched.data.metrics["loss"] == pytest.approx(1 / 50)
    assert math.isnan(fetched.data.metrics["odd"])
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(50))
    assert history[0].value == 1.0

    exp = client.get_experiment_by_name("remote-exp")
    found = client.search_runs([exp.experiment_id], "params.lr = '0.1'")
    assert [r.info.run_id for r in found] == [run_id]

    assert fetched.info.artifact_uri.startswith("mlflow-artifacts:")
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/readme.txt"]
    local = client.download_artifacts(run_id, "notes/readme.txt", str(tmp_path / "dl"))
    assert Path(local).read_text() == "hello"

    # The sidebar's native API resolves the proxied artifacts on the server's side.
    request = urllib.request.Request(
        f"{remote}/api/runs/{run_id}/artifacts?path=notes",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        listed = json.loads(response.read())
    assert listed == {"files": [{"path": "notes/readme.txt", "is_dir": False, "file_size": 5}]}


def test_a_big_batch_goes_in_requests_of_at_most_1000_metrics(remote):
    store = RestStore(remote, token=TOKEN)
    run = store.create_run("0", "me", 1, tags={}, run_name="big")
    sent: list[dict] = []
    real_call = store.http.call

    def spy(method, path, params=None, body=None, **options):
        if path.endswith("runs/log-batch"):
            sent.append(body)
        return real_call(method, path, params=params, body=body, **options)

    store.http.call = spy
    metrics = [Metric("m", float(i), 1000 + i, i) for i in range(2500)]
    params = [Param(f"p{i}", str(i)) for i in range(150)]
    store.log_batch(run.info.run_id, metrics, params, [RunTag("t", "v")])
    assert max(len(b.get("metrics", [])) for b in sent) <= 1000
    assert max(len(b.get("params", [])) for b in sent) <= 100
    assert sum(len(b.get("metrics", [])) for b in sent) == 2500
    history = store.get_metric_history(run.info.run_id, "m")
    assert len(history) == 2500 and history[2499].value == 2499.0
    assert len(store.get_run(run.info.run_id).data.params) == 150


def test_metric_rows_of_several_runs_are_batched_per_run(remote):
    store = RestStore(remote, token=TOKEN)
    a = store.create_run("0", "me", 1).info.run_id
    b = store.create_run("0", "me", 1).info.run_id
    store.log_metric_rows([(a, "x", 1.0, 10, 0), (b, "x", 2.0, 10, 0), (a, "x", 3.0, 11, 1)])
    assert [m.value for m in store.get_metric_history(a, "x")] == [1.0, 3.0]
    assert [m.value for m in store.get_metric_history(b, "x")] == [2.0]


def test_server_errors_arrive_as_the_same_tracker_errors(remote):
    store = RestStore(remote, token=TOKEN)
    with pytest.raises(NotFound):
        store.get_run("0" * 32)
    assert store.get_experiment_by_name("nope") is None
    store.create_experiment("dup")
    with pytest.raises(AlreadyExists):
        store.create_experiment("dup")
    with pytest.raises(InvalidParameter, match="character"):
        store.search_runs(["0"], "metrics.acc >> 1")


def test_an_unreachable_server_is_a_clear_error_after_retries():
    url = f"http://127.0.0.1:{free_port()}"
    store = RestStore(url, token=TOKEN, max_retries=2, backoff_s=0.01)
    with pytest.raises(TrackerError) as info:
        store.get_experiment("0")
    message = str(info.value)
    assert f"Cannot reach the tracking server at {url}" in message
    assert "Is it running?" in message and "3 times" in message


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_refused_token_names_the_setting_to_fix(server, monkeypatch, token):
    monkeypatch.delenv(env.TRACKING_TOKEN, raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    store = RestStore(server.url, token=token, max_retries=0)
    with pytest.raises(TrackerError) as info:
        store.search_experiments()
    assert info.value.error_code == "UNAUTHENTICATED"
    assert "refused" in str(info.value) and env.TRACKING_TOKEN in str(info.value)


class Flaky(tornado.web.RequestHandler):
    """Fails with 503 twice, then answers like an experiments/get endpoint."""

    calls = 0

    def get(self) -> None:
        type(self).calls += 1
        if type(self).calls <= 2:
            self.set_status(503)
            self.finish({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "restarting"})
            return
        self.finish({"experiment": {"experiment_id": "7", "name": "e", "artifact_location": "x"}})


def test_5xx_answers_are_retried_with_backoff():
    running = ThreadServer(tornado.web.Application([(r"/api/2.0/mlflow/experiments/get", Flaky)]))
    try:
        store = RestStore(running.url, max_retries=3, backoff_s=0.01)
        assert store.get_experiment("7").name == "e"
        assert Flaky.calls == 3
    finally:
        running.stop()


# -- a real standalone server process ----------------------------------------------------------


@pytest.mark.slow
def test_the_client_works_against_a_standalone_server_with_two_workers(
    tmp_path, tracking_uri, monkeypatch
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "notebook_tracker.cli", "server",
            "--backend-store-uri", f"sqlite:///{tmp_path / 'srv.db'}",
            "--artifacts-destination", str(tmp_path / "srv-artifacts"),
            "--port", str(port), "--workers", "2", "--auth-token", TOKEN,
        ],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")},
    )  # fmt: skip
    log.close()
    try:

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                urllib.request.urlopen(url + "/health", timeout=1).close()
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True

        wait_until(up, timeout=60, what="standalone server")
        monkeypatch.setenv(env.TRACKING_URI, url)
        monkeypatch.setenv(env.TRACKING_TOKEN, TOKEN)
        client = TrackingClient()
        exp = client.create_experiment("two-workers")
        ids = []
        for i in range(6):
            run = client.create_run(exp, run_name=f"w{i}")
            client.log_batch(
                run.info.run_id, metrics=[Metric("acc", i / 10, 1, s) for s in range(300)]
            )
            client.log_text(run.info.run_id, f"run {i}", "out.txt")
            ids.append(run.info.run_id)
        found = client.search_runs([exp], order_by=["attributes.run_name DESC"])
        assert [r.info.run_name for r in found] == [f"w{i}" for i in reversed(range(6))]
        assert len(client.get_metric_history(ids[3], "acc")) == 300
        dst = client.download_artifacts(ids[2], "out.txt", str(tmp_path / "dl"))
        assert Path(dst).read_text() == "run 2"
    finally:
        forget_stores()
        proc.terminate()
        proc.wait(20)


# -- through the Jupyter server extension -------------------------------------------------------


@pytest.fixture
def jp_server_config(tracking_uri: str) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"notebook_tracker": True},
            "allow_unauthenticated_access": False,
        }
    }


async def test_a_remote_kernel_can_log_to_a_jupyter_server(
    jp_serverapp, jp_base_url, jp_auth_header, http_server_client, tracking_uri
):
    port = http_server_client.get_http_port()
    url = f"http://127.0.0.1:{port}{jp_base_url}notebook-tracker/"
    token = jp_auth_header["Authorization"].split()[-1]

    def log_remotely() -> str:
        store = RestStore(url, token=token)
        run = store.create_run("0", "remote", 1, run_name="via-jupyter")
        store.log_batch(run.info.run_id, metrics=[Metric("loss", 0.5, 1, 0)])
        return run.info.run_id

    run_id = await asyncio.to_thread(log_remotely)
    local = TrackingClient(tracking_uri).get_run(run_id)
    assert local.info.run_name == "via-jupyter" and local.data.metrics == {"loss": 0.5}
    response = await http_server_client.fetch(
        f"{jp_base_url}notebook-tracker/api/runs/{run_id}", headers=jp_auth_header
    )
    assert json.loads(response.body)["run"]["metrics"] == {"loss": 0.5}

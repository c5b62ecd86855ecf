"""The Jupyter server extension: enabled by its config file, one store for server and kernels."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_process import jupyter_server_process

from notebook_tracker import env
from notebook_tracker.server.extension import resolve_tracking_uri

pytest_plugins = ("pytest_jupyter.jupyter_server",)

TOKEN = "test-token-" + uuid.uuid4().hex


class RunningServer:
    def __init__(self, url: str, root: Path, env: dict[str, str]) -> None:
        self.url = url
        self.root = root
        self.env = env

    def get(self, path: str, token: str | None = TOKEN) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path)
        if token:
            request.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real `jupyter server` process whose only notebook-tracker config is our install file.

    Its config dir holds just `jupyter_server_config.d/notebook_tracker.json` from the repo
    (what the wheel installs), and no NOTEBOOK_TRACKER_URI: the default store applies.
    """
    base = tmp_path_factory.mktemp("jupyter")
    with jupyter_server_process(base, TOKEN) as (url, root, proc_env):
        yield RunningServer(url, root, proc_env)


@pytest.mark.slow
def test_the_installed_config_file_enables_the_extension(jupyter_server):
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_server.extension.serverextension", "list"],
        env=jupyter_server.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    assert re.search(r"^\s*notebook_tracker enabled$", output, re.M), output
    assert re.search(r"^\s*notebook_tracker \S+ OK$", output, re.M), output


@pytest.mark.slow
def test_the_extension_api_refuses_requests_without_the_token(jupyter_server):
    status, body = jupyter_server.get("/notebook-tracker/api/experiments", token=None)
    assert status == 401
    assert json.loads(body)["error_code"] == "UNAUTHENTICATED"
    status, body = jupyter_server.get("/notebook-tracker/api/experiments", token="wrong")
    assert status == 401
    assert "not this Jupyter server's token" in json.loads(body)["message"]
    status, body = jupyter_server.get("/notebook-tracker/api/experiments")
    assert status == 200
    assert [e["name"] for e in json.loads(body)["experiments"]] == ["Default"]


async def _execute(url: str, kernel_id: str, code: str) -> str:
    """Run `code` in a kernel over the server's websocket; return its stdout."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws_url = url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
    conn = await websocket_connect(
        HTTPRequest(ws_url, headers={"Authorization": f"token {TOKEN}"}, request_timeout=60)
    )
    msg_id = uuid.uuid4().hex
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))  # fmt: skip
    out, errors = [], []
    while True:
        raw = await asyncio.wait_for(conn.read_message(), timeout=120)
        assert raw is not None, "kernel websocket closed"
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            errors.append("\n".join(msg["content"]["traceback"]))
        elif kind == "execute_reply":
            break
    conn.close()
    assert not errors, errors
    return "".join(out)


@pytest.mark.slow
def test_a_kernel_started_by_the_server_logs_to_the_server_store(jupyter_server):
    kernel = jupyter_server.post("/api/kernels", {"name": "python3"})
    code = (
        "import os, notebook_tracker as nt\n"
        "with nt.start_run(run_name='from-kernel'):\n"
        "    nt.log_metric('loss', 0.25)\n"
        "print(os.environ['NOTEBOOK_TRACKER_URI'])\n"
    )
    stdout = asyncio.run(_execute(jupyter_server.url, kernel["id"], code))
    store = jupyter_server.root / ".notebook_tracker" / "tracker.db"
    assert stdout.strip() == f"sqlite:///{store}"
    status, body = jupyter_server.get("/notebook-tracker/api/runs")
    runs = json.loads(body)["runs"]
    assert status == 200
    assert [(r["run_name"], r["metrics"]) for r in runs] == [("from-kernel", {"loss": 0.25})]


# -- store resolution, in process ---------------------------------------------------------------


def test_store_resolution_prefers_the_trait_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(env.TRACKING_URI, raising=False)
    assert resolve_tracking_uri("", str(tmp_path)) == (
        f"sqlite:///{tmp_path / '.notebook_tracker' / 'tracker.db'}"
    )
    monkeypatch.setenv(env.TRACKING_URI, f"sqlite:///{tmp_path / 'env.db'}")
    assert resolve_tracking_uri("", str(tmp_path)) == f"sqlite:///{tmp_path / 'env.db'}"
    assert resolve_tracking_uri(str(tmp_path / "cfg"), str(tmp_path)) == (
        f"sqlite:///{tmp_path / 'cfg' / 'tracker.db'}"
    )


@pytest.fixture
def configured_uri(tmp_path, tracking_uri) -> str:
    return f"sqlite:///{tmp_path / 'configured.db'}"


@pytest.fixture
def jp_server_config(configured_uri: str) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"notebook_tracker": True},
            "allow_unauthenticated_access": False,
        },
        "NotebookTracker": {"tracking_uri": configured_uri},
    }


async def test_the_configured_store_is_served_and_exported_to_kernels(
    jp_fetch, jp_web_app, configured_uri
):
    from notebook_tracker.client import TrackingClient

    assert jp_web_app.settings["notebook_tracker"].tracking_uri == configured_uri
    assert os.environ[env.TRACKING_URI] == configured_uri
    TrackingClient(configured_uri).create_experiment("configured")
    response = await jp_fetch("notebook-tracker", "api", "experiments")
    names = {e["name"] for e in json.loads(response.body)["experiments"]}
    assert names == {"Default", "configured"}

"""The call channel inside a real `jupyter server` (server/jupyter_channel.py): our client's
synchronous calls to a Jupyter URL travel as frames after one upgrade that Jupyter's own auth
let through, with the HTTP API's answers; a browser login, a page's Origin, a read-only user
or a missing token never get a channel."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jupyter_process import jupyter_server_process
from server_helpers import ask_upgrade, batch_errors, read_answer_frame

from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.store.rest import RestStore
from notebook_tracker.wire.call_frames import PROTOCOL, UPGRADE_PATH, request_frame

TOKEN = "jupyter-channel-" + uuid.uuid4().hex
PATH = f"/notebook-tracker/{UPGRADE_PATH}"
UPGRADE = f"Upgrade: {PROTOCOL}\r\nConnection: Upgrade\r\n"

READ_ONLY_AUTHORIZER = """
from jupyter_server.auth.authorizer import Authorizer

class ReadOnly(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return action == "read"
"""


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("jupyter-channel")
    store = {"NOTEBOOK_TRACKER_URI": f"sqlite:///{base / 'tracker.db'}"}
    with jupyter_server_process(base, TOKEN, store) as (url, _root, _env):
        yield url


def _store(url: str, token: str | None = TOKEN) -> RestStore:
    return RestStore(f"{url}/notebook-tracker", token=token, max_retries=0)


def _ask(url: str, headers: str) -> tuple[socket.socket, int, bytes]:
    return ask_upgrade(urlsplit(url).port or 80, PATH, headers)


def _refusal(url: str, headers: str) -> tuple[int, str]:
    sock, status, body = _ask(url, headers)
    sock.close()
    return status, json.loads(body)["error_code"]


def test_a_scripts_synchronous_calls_to_jupyter_travel_as_frames_and_land(jupyter):
    store = _store(jupyter)
    run_id = store.create_run("0", "u", 1).info.run_id
    for i in range(5):
        store.log_batch(run_id, params=[Param(f"p{i}", str(i))])
        store.log_batch(run_id, tags=[RunTag("t", f"v{i}")])
        store.log_batch(run_id, metrics=[Metric("m", i / 2, 1000 + i, i)])
    assert store.http._direct.channel is True
    run = _store(jupyter).get_run(run_id)
    assert run.data.params == {f"p{i}": str(i) for i in range(5)}
    assert run.data.tags["t"] == "v4"
    history = store.get_metric_history(run_id, "m")
    assert [(m.step, m.value) for m in history] == [(i, i / 2) for i in range(5)]


@pytest.mark.parametrize("call", ["param-changed", "unknown-run", "bad-metric-key"])
def test_errors_over_the_jupyter_channel_are_the_http_apis_errors(jupyter, call):
    framed, plain = _store(jupyter), _store(jupyter)
    plain.http._direct.channel = False  # this one stays on HTTP
    run_id = plain.create_run("0", "u", 1).info.run_id
    plain.log_batch(run_id, params=[Param("p", "1")])
    batches = {
        "param-changed": (run_id, {"params": [Param("p", "2")]}),
        "unknown-run": ("f" * 32, {"tags": [RunTag("t", "1")]}),
        "bad-metric-key": (run_id, {"metrics": [Metric("../up", 1.0, 1, 0)]}),
    }
    framed.log_batch(run_id, tags=[RunTag("up", "1")])
    assert framed.http._direct.channel is True
    target, fields = batches[call]
    errors = batch_errors((framed, plain), target, fields)
    assert errors[0] == errors[1]
    assert framed.http._direct.channel is True  # an error does not end the channel


def test_the_jupyter_channel_needs_the_token_and_refuses_browsers(jupyter):
    token = f"Authorization: token {TOKEN}\r\n"
    assert _refusal(jupyter, UPGRADE) == (401, "UNAUTHENTICATED")
    assert _refusal(jupyter, UPGRADE + "Authorization: token wrong\r\n") == (401, "UNAUTHENTICATED")
    origin = "Origin: http://attacker.example\r\n"
    assert _refusal(jupyter, UPGRADE + token + origin) == (403, "PERMISSION_DENIED")
    websocket = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    assert _refusal(jupyter, websocket + token) == (400, "INVALID_PARAMETER_VALUE")
    assert _refusal(jupyter, token) == (400, "INVALID_PARAMETER_VALUE")

    # A browser's login cookie identifies the user, but is not enough for a channel.
    port = urlsplit(jupyter).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"/api/status?token={TOKEN}")
    reply = conn.getresponse()
    reply.read()
    cookies = "; ".join(
        value.split(";")[0] for name, value in reply.getheaders() if name.lower() == "set-cookie"
    )
    assert cookies, "Jupyter set no login cookie"
    assert _refusal(jupyter, UPGRADE + f"Cookie: {cookies}\r\n") == (403, "PERMISSION_DENIED")

    sock, status, _ = _ask(jupyter, UPGRADE + f"Authorization: Bearer {TOKEN}\r\n")
    try:
        assert status == 101
        body = json.dumps({"run_id": "f" * 32, "tags": [{"key": "t", "value": "1"}]}).encode()
        sock.sendall(request_frame("runs/log-batch", body))
        status, answer = read_answer_frame(sock)
        assert status == 404 and json.loads(answer)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    finally:
        sock.close()


def test_frames_mark_the_jupyter_server_active_as_api_requests_do(jupyter):
    def last_activity() -> str:
        conn = http.client.HTTPConnection("127.0.0.1", urlsplit(jupyter).port, timeout=10)
        conn.request("GET", "/api/status", headers={"Authorization": f"token {TOKEN}"})
        return str(json.loads(conn.getresponse().read())["last_activity"])

    store = _store(jupyter)
    run_id = store.create_run("0", "u", 1).info.run_id
    store.log_batch(run_id, tags=[RunTag("t", "0")])
    before = last_activity()
    time.sleep(0.05)
    store.log_batch(run_id, tags=[RunTag("t", "1")])
    assert store.http._direct.channel is True
    assert last_activity() > before


def test_a_user_jupyter_lets_only_read_gets_no_channel_and_writes_nothing(tmp_path: Path):
    (tmp_path / "read_only_auth.py").write_text(READ_ONLY_AUTHORIZER)
    env = {"NOTEBOOK_TRACKER_URI": f"sqlite:///{tmp_path / 'tracker.db'}",
           "PYTHONPATH": str(tmp_path)}  # fmt: skip
    args = ("--ServerApp.authorizer_class=read_only_auth.ReadOnly",)
    with jupyter_server_process(tmp_path, TOKEN, env, args) as (url, _root, _env):
        status, code = _refusal(url, UPGRADE + f"Authorization: token {TOKEN}\r\n")
        assert (status, code) == (403, "PERMISSION_DENIED")


def test_the_channel_works_under_a_jupyter_base_url(tmp_path: Path):
    env = {"NOTEBOOK_TRACKER_URI": f"sqlite:///{tmp_path / 'tracker.db'}"}
    with jupyter_server_process(tmp_path, TOKEN, env, base_url="/user/ada/") as (url, _, _env):
        store = RestStore(f"{url}/user/ada/notebook-tracker", token=TOKEN, max_retries=0)
        run_id = store.create_run("0", "u", 1).info.run_id
        store.log_batch(run_id, tags=[RunTag("t", "1")])
        store.log_batch(run_id, metrics=[Metric("m", 0.5, 1, 0)])
        assert store.http._direct.channel is True
        assert store.get_run(run_id).data.tags["t"] == "1"

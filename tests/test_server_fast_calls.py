"""MLflow's hot single calls answered below tornado's RequestHandler (server/fast_calls.py):
the same answers, errors, auth, limits and log line as the regular handlers, on both backends."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from server_helpers import ThreadServer, fast_and_plain
from standalone_server import running_server

from notebook_tracker.server import access_log
from notebook_tracker.server.fast_calls import FastCalls

TOKEN = "fast-calls-token"
LIMIT = 4096  # the servers' body limit here
API = "/api/2.0/mlflow/"


@pytest.fixture
def servers(store_uri: str) -> Iterator[tuple[ThreadServer, FastCalls, ThreadServer]]:
    """(the standalone worker's server, its fast delegate, the same app without it) on one
    store, both with a token and a small body limit."""
    with fast_and_plain(store_uri, TOKEN, LIMIT) as running:
        yield running


class Conn:
    """One kept connection."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.reconnects = 0  # times the server had closed the connection

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        try:
            self.http.request(method, path, body=data, headers=all_headers)
            resp = self.http.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.http.close()
            self.reconnects += 1
            self.http.request(method, path, body=data, headers=all_headers)
            resp = self.http.getresponse()
        raw = resp.read()
        return resp.status, dict(resp.headers), json.loads(raw) if raw else None


def _new_run(conn: Conn) -> str:
    status, _, body = conn.send("POST", API + "runs/create", {"experiment_id": "0"})
    assert status == 200, body
    return body["run"]["info"]["run_id"]


def _run_data(conn: Conn, run_id: str) -> dict[str, Any]:
    status, _, body = conn.send("GET", f"{API}runs/get?run_id={run_id}")
    assert status == 200, body
    return body["run"]["data"]


def test_hot_calls_are_answered_below_the_request_handler_and_land(servers):
    fast, calls, regular = servers
    conn = Conn(fast.port)
    run_id = _new_run(conn)
    sent = [
        ("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}),
        ("runs/set-tag", {"run_id": run_id, "key": "team", "value": "a"}),
        ("runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.5, "step": 1}),
        (
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "acc", "value": 0.9, "timestamp": 5, "step": 2}],
                "params": [{"key": "depth", "value": "3"}],
                "tags": [{"key": "stage", "value": "dev"}],
            },
        ),
        ("runs/log-metric/", {"run_uuid": run_id, "key": "loss", "value": "NaN", "step": 2}),
    ]
    for path, body in sent:
        status, headers, answer = conn.send("POST", API + path, body)
        assert (status, answer) == (200, {}), (path, answer)
        assert headers["Content-Type"] == "application/json; charset=UTF-8"
    status, _, answer = conn.send("POST", "/ajax-api/2.0/mlflow/runs/set-tag", sent[1][1])
    assert (status, answer) == (200, {})
    assert (calls.answered, calls.replayed) == (6, 0)
    data = _run_data(Conn(regular.port), run_id)
    assert {p["key"]: p["value"] for p in data["params"]} == {"lr": "0.1", "depth": "3"}
    assert {"team": "a", "stage": "dev"}.items() <= {
        t["key"]: t["value"] for t in data["tags"]
    }.items()
    assert {m["key"]: m["value"] for m in data["metrics"]} == {"loss": "NaN", "acc": 0.9}


def _bad_requests(run_id: str, deleted: str) -> list[tuple[str, Any]]:
    metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    return [
        ("runs/log-metric", b'{"run_id": '),  # malformed JSON
        ("runs/log-metric", b"[1, 2]"),  # not an object
        ("runs/log-metric", b""),  # empty: no run_id
        ("runs/log-metric", {**metric, "value": "abc"}),
        ("runs/log-metric", {**metric, "step": 1.5}),
        ("runs/log-metric", {**metric, "run_id": "0" * 32}),  # unknown run
        ("runs/log-metric", {**metric, "run_id": deleted}),
        ("runs/log-metric", {**metric, "key": "bad\u0000key"}),
        ("runs/log-parameter", {"run_id": run_id, "key": "p"}),  # no value
        ("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "changed"}),
        ("runs/set-tag", {"run_id": deleted, "key": "t", "value": "v"}),
        ("runs/set-tag", {"run_id": run_id, "key": "t", "value": [1]}),
        ("runs/log-batch", {"run_id": run_id, "metrics": "nope"}),
        ("runs/log-batch", {"run_id": run_id, "metrics": [{"key": "m"}] * 1001}),
        ("runs/log-batch", {"run_id": deleted, "params": [{"key": "x", "value": "1"}]}),
    ]


def test_failing_hot_calls_get_the_regular_handlers_errors_word_for_word(servers):
    fast, calls, regular = servers
    fast_conn, regular_conn = Conn(fast.port), Conn(regular.port)
    run_id, deleted = _new_run(fast_conn), _new_run(fast_conn)
    assert fast_conn.send("POST", API + "runs/delete", {"run_id": deleted})[0] == 200
    param = {"run_id": run_id, "key": "p", "value": "first"}
    assert fast_conn.send("POST", API + "runs/log-parameter", param)[0] == 200
    answered = calls.answered
    cases = _bad_requests(run_id, deleted)
    for path, body in cases:
        got = fast_conn.send("POST", API + path, body)
        expected = regular_conn.send("POST", API + path, body)
        assert 400 <= got[0] < 500, (path, got)
        assert (got[0], got[2]) == (expected[0], expected[2]), path
        assert got[1]["Content-Type"] == expected[1]["Content-Type"]
    within_limit = [
        b for _, b in cases if len(b if isinstance(b, bytes) else json.dumps(b)) <= LIMIT
    ]
    assert (calls.answered, calls.replayed) == (answered, len(within_limit))
    assert _run_data(fast_conn, run_id)["params"] == [{"key": "p", "value": "first"}]


def test_tokens_on_a_kept_connection_are_checked_on_every_fast_call(servers):
    fast, calls, regular = servers
    conn, regular_conn = Conn(fast.port), Conn(regular.port)
    run_id = _new_run(conn)
    body = {"run_id": run_id, "key": "t", "value": "v"}
    assert conn.send("POST", API + "runs/set-tag", body)[0] == 200
    basic = base64.b64encode(f"user:{TOKEN}".encode()).decode()
    for token, headers in [
        ("wrong", {}),
        (None, {}),
        (TOKEN + "x", {}),
        (None, {"Authorization": "Basic " + base64.b64encode(b"user:nope").decode()}),
    ]:
        got = conn.send("POST", API + "runs/set-tag", body, token=token, headers=headers)
        expected = regular_conn.send("POST", API + "runs/set-tag", body, token, headers)
        assert got[0] == 401
        assert (got[0], got[2]) == (expected[0], expected[2])
        challenge = {k.lower(): v for k, v in got[1].items()}.get("www-authenticate")
        assert challenge == 'Bearer realm="notebook-tracker"'
        assert challenge == {k.lower(): v for k, v in expected[1].items()}["www-authenticate"]
    headers = {"Authorization": f"Basic {basic}"}
    assert conn.send("POST", API + "runs/set-tag", body, token=None, headers=headers)[0] == 200
    assert conn.send("POST", API + "runs/set-tag", body)[0] == 200
    assert regular_conn.send("POST", API + "runs/set-tag", body)[0] == 200
    assert conn.reconnects == regular_conn.reconnects  # a refusal closes it, as before
    assert calls.answered == 3


def test_hot_and_other_requests_share_one_kept_connection(servers):
    fast, calls, _ = servers
    conn = Conn(fast.port)
    run_id = _new_run(conn)
    sock = conn.http.sock
    for step in range(3):
        point = {"run_id": run_id, "key": "m", "value": float(step), "timestamp": 1, "step": step}
        assert conn.send("POST", API + "runs/log-metric", point)[0] == 200
        assert _run_data(conn, run_id)["metrics"][0]["value"] == float(step)
        assert conn.send("GET", API + "experiments/get?experiment_id=0")[0] == 200
        assert conn.send("POST", API + "runs/nothing-here", {})[0] == 404
    assert conn.http.sock is sock
    assert calls.answered == 3


def test_a_body_over_the_limit_is_refused_as_before(servers):
    fast, calls, regular = servers
    conn, regular_conn = Conn(fast.port), Conn(regular.port)
    run_id = _new_run(conn)
    big = {"run_id": run_id, "params": [{"key": f"k{i}", "value": "x" * 60} for i in range(90)]}
    assert len(json.dumps(big)) > LIMIT
    got = conn.send("POST", API + "runs/log-batch", big)
    expected = regular_conn.send("POST", API + "runs/log-batch", big)
    assert got[0] == 413
    assert (got[0], got[2]) == (expected[0], expected[2])
    assert calls.answered == 0
    assert _run_data(conn, run_id).get("params", []) == []


def _raw_responses(port: int, payload: bytes, count: int) -> list[bytes]:
    """Send `payload` at once and read `count` responses (Content-Length framed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(payload)
        buf, out = b"", []
        while len(out) < count:
            head_end = buf.find(b"\r\n\r\n")
            if head_end >= 0:
                head = buf[:head_end].decode("latin-1")
                fields = head.lower().split("content-length:")
                length = int(fields[1].split("\r\n")[0]) if len(fields) > 1 else 0
                end = head_end + 4 + length
                if len(buf) >= end:
                    out.append(buf[:end])
                    buf = buf[end:]
                    continue
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            buf += chunk
        return out


def _raw_post(path: str, body: bytes, extra: str = "", version: str = "HTTP/1.1") -> bytes:
    head = (
        f"POST {path} {version}\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\n{extra}"
    )
    if "Transfer-Encoding" not in extra:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def test_pipelined_requests_are_answered_in_order(servers):
    fast, calls, _ = servers
    run_id = _new_run(Conn(fast.port))
    requests = []
    for step in range(4):
        point = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": step}
        requests.append(_raw_post(API + "runs/log-metric", json.dumps(point).encode()))
        requests.append(_raw_post(API + "runs/log-metric", b"{broken"))
    answers = _raw_responses(fast.port, b"".join(requests), len(requests))
    assert [a.split(b" ")[1] for a in answers] == [b"200", b"400"] * 4
    assert (calls.answered, calls.replayed) == (4, 4)


def test_unusual_requests_take_the_regular_way_and_are_answered(servers):
    fast, calls, _ = servers
    run_id = _new_run(Conn(fast.port))
    tag = json.dumps({"run_id": run_id, "key": "t", "value": "v"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(tag), tag)
    payloads = [
        _raw_post(API + "runs/set-tag", chunked, "Transfer-Encoding: chunked\r\n"),
        _raw_post(API + "runs/set-tag", tag, "Expect: 100-continue\r\n"),
        _raw_post(API + f"runs/set-tag?token={TOKEN}", tag),
        _raw_post(API + "runs/set-tag", tag, version="HTTP/1.0"),
    ]
    for payload in payloads:
        answer = _raw_responses(fast.port, payload, 2 if b"Expect:" in payload else 1)[-1]
        assert answer.split(b" ")[1] == b"200", answer
    text_plain = _raw_post(API + "runs/set-tag", tag).replace(b"application/json", b"text/plain")
    assert _raw_responses(fast.port, text_plain, 1)[0].split(b" ")[1] == b"400"
    # A length str.isdigit() accepts but int() refuses: tornado's own 400, not a dropped connection.
    odd_length = _raw_post(API + "runs/set-tag", tag).replace(
        b"Content-Length: %d" % len(tag), "Content-Length: \u00b2".encode("latin-1")
    )
    assert b"Content-Length: \xb2" in odd_length
    assert _raw_responses(fast.port, odd_length, 1)[0].split(b" ")[1] == b"400"
    assert calls.answered == 0


def test_a_client_gone_mid_body_writes_nothing_and_the_server_goes_on(servers):
    fast, calls, _ = servers
    conn = Conn(fast.port)
    run_id = _new_run(conn)
    param = json.dumps({"run_id": run_id, "key": "half", "value": "1"}).encode()
    with socket.create_connection(("127.0.0.1", fast.port), timeout=30) as sock:
        sock.sendall(_raw_post(API + "runs/log-parameter", param)[: -len(param) // 2])
    time.sleep(0.2)
    whole = {"run_id": run_id, "key": "whole", "value": "1"}
    assert conn.send("POST", API + "runs/log-parameter", whole)[0] == 200
    assert _run_data(conn, run_id)["params"] == [{"key": "whole", "value": "1"}]
    assert calls.answered == 1


def test_fast_calls_write_the_regular_access_line(servers, caplog):
    fast, _, _ = servers
    conn = Conn(fast.port)
    run_id = _new_run(conn)
    with caplog.at_level(logging.DEBUG, logger="tornado.access"):
        conn.send("POST", API + "runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"})
        conn.send("POST", API + "runs/set-tag", {"run_id": "0" * 32, "key": "t", "value": "v"})
        deadline = time.monotonic() + 5  # each line is written right after its answer
        while len(_access_lines(caplog)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = _access_lines(caplog)
    assert lines[0].startswith(f"200 POST {API}runs/set-tag (127.0.0.1) ")
    assert lines[1].startswith(f"404 POST {API}runs/set-tag (127.0.0.1) ")
    assert len(lines) == 2


def test_success_lines_are_built_only_when_a_handler_writes_debug(monkeypatch):
    """Jupyter's way: loggers at debug, the level on the handler. A success's line is built
    (and written) when a handler takes debug lines, not otherwise; a failure's always."""
    built: list[str] = []
    parent = logging.Logger("jupyter-like", logging.DEBUG)
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: None  # type: ignore[method-assign]
    parent.addHandler(handler)
    monkeypatch.setattr(access_log.access, "parent", parent)
    monkeypatch.setattr(access_log.access, "handlers", [])
    monkeypatch.setattr(access_log.access, "propagate", True)
    monkeypatch.setattr(access_log.access, "filters", [lambda r: built.append(r.getMessage())])
    monkeypatch.setattr(access_log.access, "level", logging.NOTSET)
    logging.Logger.manager._clear_cache()
    try:
        access_log.log_line(200, "POST", "/api/a", "127.0.0.1", 0.001)
        access_log.log_line(404, "POST", "/api/b", "127.0.0.1", 0.001)
        handler.setLevel(logging.DEBUG)
        access_log.log_line(200, "POST", "/api/c", "127.0.0.1", 0.001)
    finally:
        logging.Logger.manager._clear_cache()
    assert [line.split(" (")[0] for line in built] == ["404 POST /api/b", "200 POST /api/c"]


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        # By the logger's current name: a Jupyter server started in this process renames
        # tornado's loggers after its own app ("ServerApp").
        if r.name == access_log.access.name and "runs/set-tag" in r.getMessage()
    ]


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
def test_a_killed_worker_is_replaced_and_calls_go_on(tmp_path, store_uri):
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.store.rest import RestStore

    with running_server(tmp_path, store_uri, workers=2, token=TOKEN) as server:
        client = TrackingClient(server.url, store=RestStore(server.url, token=TOKEN))
        run_id = client.create_run("0").info.run_id
        for step in range(20):
            client.log_metric(run_id, "m", float(step), step=step)
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while len([p for p in server.worker_pids() if p != victim]) < 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        fresh = TrackingClient(server.url, store=RestStore(server.url, token=TOKEN))
        for step in range(20, 40):
            fresh.log_metric(run_id, "m", float(step), step=step)
            fresh.log_param(run_id, f"p{step}", step)
        history = fresh.get_metric_history(run_id, "m")
        assert [m.step for m in history] == list(range(40))
        assert len(fresh.get_run(run_id).data.params) == 20

"""The call channel (wire/call_frames.py, server/call_channel.py, store/rest_connections.py):
our client's hot calls as frames on one upgraded connection, with the HTTP API's answers and
errors, its token, its limits, and the same promise when the server goes away mid-call: a point
that may have landed is never sent twice."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from server_helpers import (
    ThreadServer,
    ask_upgrade,
    batch_errors,
    fast_and_plain,
    read_answer_frame,
)

from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import AuthRefused
from notebook_tracker.server.fast_calls import FastCalls
from notebook_tracker.store.rest import RestStore
from notebook_tracker.wire.call_frames import PROTOCOL, UPGRADE_PATH, request_frame

TOKEN = "call-channel-token"
LIMIT = 4096


@pytest.fixture
def servers(store_uri: str) -> Iterator[tuple[ThreadServer, FastCalls, ThreadServer]]:
    """(the standalone worker's server, its fast delegate, the same app without it) on one
    store, both with a token and a small body limit."""
    with fast_and_plain(store_uri, TOKEN, LIMIT) as running:
        yield running


def _store(server: ThreadServer, token: str | None = TOKEN, **options: object) -> RestStore:
    return RestStore(server.url, token=token, **options)  # type: ignore[arg-type]


def test_hot_calls_travel_as_frames_after_one_upgrade_and_land(servers):
    fast, calls, _ = servers
    store = _store(fast)
    run_id = store.create_run("0", "u", 1).info.run_id
    for i in range(5):
        store.log_batch(run_id, params=[Param(f"p{i}", str(i))])
        store.log_batch(run_id, tags=[RunTag("t", f"v{i}")])
        store.log_batch(run_id, metrics=[Metric("m", i / 2, 1000 + i, i)])
    store.log_batch(
        run_id,
        metrics=[Metric("a", float("nan"), 7, 0), Metric("b", float("-inf"), 7, 0)],
        params=[Param("both", "x")],
        tags=[RunTag("both", "y")],
    )
    assert store.http._direct.channel is True
    assert calls.upgraded == 1 and calls.answered == 0  # one upgrade, no HTTP hot call
    run = store.get_run(run_id)
    assert run.data.params == {**{f"p{i}": str(i) for i in range(5)}, "both": "x"}
    assert run.data.tags["t"] == "v4" and run.data.tags["both"] == "y"
    history = store.get_metric_history(run_id, "m")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (i, i / 2, 1000 + i) for i in range(5)
    ]
    assert str(store.get_run(run_id).data.metrics["a"]) == "nan"
    assert store.get_run(run_id).data.metrics["b"] == float("-inf")


def test_other_requests_between_hot_calls_never_go_on_the_channel(servers, caplog):
    """A thread's channel is a connection of its own: a read between two points goes over
    HTTP on another one (found running the quickstart notebook against a server: each read
    went on the channel, was refused there, and was retried after a back-off)."""
    fast, calls, _ = servers
    store = _store(fast, max_retries=0)
    run_id = store.create_run("0", "u", 1).info.run_id
    for step in range(5):
        store.log_batch(run_id, metrics=[Metric("m", float(step), 1, step)])
        assert store.get_run(run_id).data.metrics["m"] == float(step)
    assert calls.upgraded == 1
    assert "call channel endpoint" not in caplog.text


def test_each_thread_upgrades_its_own_connection_and_all_points_land(servers):
    fast, calls, _ = servers
    store = _store(fast)
    run_id = store.create_run("0", "u", 1).info.run_id

    def log(worker: int) -> None:
        for step in range(20):
            store.log_batch(run_id, metrics=[Metric(f"w{worker}", float(step), 1, step)])

    threads = [threading.Thread(target=log, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls.upgraded == 4
    for worker in range(4):
        steps = [m.step for m in store.get_metric_history(run_id, f"w{worker}")]
        assert steps == list(range(20))


@pytest.mark.parametrize(
    "call",
    [
        "param-changed",
        "unknown-run",
        "deleted-run",
        "bad-metric-key",
        "param-too-long",
        "tag-with-nul",
    ],
)
def test_errors_over_the_channel_are_the_http_apis_errors(servers, call):
    fast, calls, plain = servers
    framed, http = _store(fast, max_retries=0), _store(plain, max_retries=0)
    run_id = http.create_run("0", "u", 1).info.run_id
    http.log_batch(run_id, params=[Param("p", "1")])
    gone = http.create_run("0", "u", 1).info.run_id
    http.delete_run(gone)
    batches = {
        "param-changed": (run_id, {"params": [Param("p", "2")]}),
        "unknown-run": ("f" * 32, {"tags": [RunTag("t", "1")]}),
        "deleted-run": (gone, {"metrics": [Metric("m", 1.0, 1, 0)]}),
        "bad-metric-key": (run_id, {"metrics": [Metric("../up", 1.0, 1, 0)]}),
        "param-too-long": (run_id, {"params": [Param("long", "x" * 7000)]}),
        "tag-with-nul": (run_id, {"tags": [RunTag("t", "a\x00b")]}),
    }
    framed.log_batch(run_id, tags=[RunTag("up", "1")])  # the channel is up before the error
    assert framed.http._direct.channel is True
    target, fields = batches[call]
    errors = batch_errors((framed, http), target, fields)
    assert errors[0] == errors[1]
    assert calls.upgraded == 1 and calls.answered == 0 and calls.replayed == 0


def test_a_server_without_the_channel_keeps_every_call_on_http(servers):
    _, _, plain = servers
    store = _store(plain)
    run_id = store.create_run("0", "u", 1).info.run_id
    for step in range(3):
        store.log_batch(run_id, metrics=[Metric("m", float(step), 1, step)])
    store.log_batch(run_id, params=[Param("p", "1")])
    assert store.http._direct.channel is False
    assert [m.step for m in store.get_metric_history(run_id, "m")] == [0, 1, 2]
    assert store.get_run(run_id).data.params == {"p": "1"}


@pytest.mark.parametrize("spin_us", ["", "0"])
def test_answers_are_polled_for_unless_turned_off_and_every_call_lands(
    servers, monkeypatch, spin_us
):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("NOTEBOOK_TRACKER_SPIN_WAIT_US", spin_us)
    fast, calls, _ = servers
    store = _store(fast)
    run_id = store.create_run("0", "u", 1).info.run_id
    for step in range(20):
        store.log_batch(run_id, metrics=[Metric("m", float(step), 1, step)])
        store.log_batch(run_id, tags=[RunTag("t", str(step))])
    wait = store.http._direct._local.chan.wait
    assert (wait is None) == (spin_us == "0")
    assert [m.step for m in store.get_metric_history(run_id, "m")] == list(range(20))
    assert store.get_run(run_id).data.tags["t"] == "19"
    assert calls.upgraded == 1


def test_the_channel_is_refused_without_the_token_and_a_changed_token_is_refused_too(servers):
    fast, calls, _ = servers
    for headers in ("", "Authorization: Bearer wrong\r\n"):
        status, body = _raw_upgrade(fast.port, headers)
        assert status == 401 and json.loads(body)["error_code"] == "UNAUTHENTICATED"
    assert calls.upgraded == 0

    store = _store(fast, token="wrong", max_retries=0)
    run_id = _store(fast).create_run("0", "u", 1).info.run_id
    with pytest.raises(AuthRefused):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    store.http.token = TOKEN  # corrected: the channel is asked for again and used
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    assert store.http._direct.channel is True and calls.upgraded == 1
    store.http.token = "not-the-token"  # same Transport, same upgraded socket
    with pytest.raises(AuthRefused):
        store.log_batch(run_id, metrics=[Metric("m", 2.0, 1, 1)])
    store.http.token = TOKEN
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0]


def test_an_oversized_frame_is_refused_with_413_and_the_connection_closed(servers):
    fast, _, _ = servers
    sock = _upgraded(fast.port)
    sock.sendall(struct.pack(">IB", LIMIT + 100, 3))  # the head only: its body never comes
    status, body = read_answer_frame(sock)
    assert status == 413 and json.loads(body)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert sock.recv(10) == b""


def test_a_frame_naming_no_endpoint_is_refused_with_404_and_the_connection_closed(servers):
    fast, _, _ = servers
    sock = _upgraded(fast.port)
    sock.sendall(struct.pack(">IB", 3, 9) + b"{}")
    status, body = read_answer_frame(sock)
    assert status == 404 and json.loads(body)["error_code"] == "ENDPOINT_NOT_FOUND"
    assert sock.recv(10) == b""


def test_frames_sent_at_once_are_answered_in_order(servers):
    fast, _, _ = servers
    run_id = _store(fast).create_run("0", "u", 1).info.run_id
    sock = _upgraded(fast.port)
    frames = b"".join(
        request_frame(
            "runs/log-batch",
            json.dumps({"run_id": run_id, "params": [{"key": "p", "value": str(i)}]}).encode(),
        )
        for i in range(30)
    )
    sock.sendall(frames)  # 30 calls before reading any answer
    statuses = [read_answer_frame(sock)[0] for _ in range(30)]
    assert statuses == [200] + [400] * 29  # the first value stays: params are immutable
    assert _store(fast).get_run(run_id).data.params == {"p": "0"}


def test_a_body_that_is_not_a_json_object_is_a_400_and_the_channel_goes_on(servers):
    fast, _, _ = servers
    run_id = _store(fast).create_run("0", "u", 1).info.run_id
    sock = _upgraded(fast.port)
    for body in (b"[1]", b"{not json", b'{"run_id": "\\ud800"}'):
        sock.sendall(request_frame("runs/log-batch", body))
        status, answer = read_answer_frame(sock)
        assert status == 400 and json.loads(answer)["error_code"] == "INVALID_PARAMETER_VALUE"
    good = {"run_id": run_id, "tags": [{"key": "t", "value": "ok"}]}
    sock.sendall(request_frame("runs/log-batch", json.dumps(good).encode()))
    assert read_answer_frame(sock) == (200, b"{}")


ANSWERED_AT_COMMIT = {
    "runs/set-tag": ({"key": "t", "value": "v"}, "SELECT value FROM tags WHERE key = 't'", "v"),
    "runs/log-parameter": ({"key": "p", "value": "1"}, "SELECT value FROM params", "1"),
    "runs/log-metric": (
        {"key": "m", "value": 2.5, "timestamp": 7, "step": 3},
        "SELECT value FROM latest_metrics WHERE key = 'm'",
        2.5,
    ),
    "runs/log-batch": (
        {"tags": [{"key": "t", "value": "w"}]},
        "SELECT value FROM tags WHERE key = 't'",
        "w",
    ),
}


@pytest.mark.parametrize("endpoint", sorted(ANSWERED_AT_COMMIT))
def test_a_lone_write_is_answered_at_its_commit_not_after_the_servers_code_that_follows(
    tmp_path, monkeypatch, loop_commits, endpoint
):
    from notebook_tracker.server.ingest import GroupWriter

    # loop_commits: no earlier slow loop commit (as this test's held one is) sends the writes
    # to the writer thread, which answers after its code, as it should.
    db = tmp_path / "tracker.db"
    with fast_and_plain(f"sqlite:///{db}", TOKEN, LIMIT) as (fast, _, _):
        run_id = _store(fast).create_run("0", "u", 1).info.run_id
        inside, leave, armed = threading.Event(), threading.Event(), threading.Event()
        end_turn = GroupWriter._end_turn
        ended: list[GroupWriter] = []

        def held_end_turn(writer: GroupWriter) -> None:  # the worker, after the commit
            if not armed.is_set():  # the warm-up's: not held
                end_turn(writer)
                ended.append(writer)
                return
            inside.set()
            leave.wait(30)
            end_turn(writer)

        # Patched before the warm-up: its answer leaves at its commit, and the code after it
        # may still be running when the client reads it; held then, it would hold the turn
        # the write under test needs, and send that write to the writer thread.
        monkeypatch.setattr(GroupWriter, "_end_turn", held_end_turn)
        sock = _upgraded(fast.port)
        sock.sendall(request_frame("runs/set-tag", json.dumps(
            {"run_id": run_id, "key": "warm", "value": "1"}).encode()))  # fmt: skip
        assert read_answer_frame(sock) == (200, b"{}")
        deadline = time.monotonic() + 10
        while not ended or ended[-1]._busy.locked():  # the warm-up's code has returned
            assert time.monotonic() < deadline
            time.sleep(0.001)
        armed.set()
        fields, query, stored = ANSWERED_AT_COMMIT[endpoint]
        try:
            sock.sendall(request_frame(endpoint, json.dumps({"run_id": run_id, **fields}).encode()))
            sock.settimeout(3)  # an answer after the code that follows would wait for `leave`
            assert read_answer_frame(sock) == (200, b"{}")
            assert inside.wait(5)  # the worker went on to that code, and is held in it
            with sqlite3.connect(db) as conn:  # what the client was told is committed, is
                assert conn.execute(query).fetchone()[0] == stored
        finally:
            leave.set()
        monkeypatch.setattr(GroupWriter, "_end_turn", end_turn)
        assert _store(fast).get_run(run_id).data.tags["warm"] == "1"


# -- raw sockets ----------------------------------------------------------------------------------
def _ask_upgrade(port: int, headers: str) -> tuple[socket.socket, int, bytes]:
    return ask_upgrade(
        port, f"/{UPGRADE_PATH}", f"Upgrade: {PROTOCOL}\r\nConnection: Upgrade\r\n{headers}"
    )


def _raw_upgrade(port: int, headers: str) -> tuple[int, bytes]:
    sock, status, body = _ask_upgrade(port, headers)
    sock.close()
    return status, body


def _upgraded(port: int) -> socket.socket:
    sock, status, _ = _ask_upgrade(port, f"Authorization: Bearer {TOKEN}\r\n")
    assert status == 101
    return sock

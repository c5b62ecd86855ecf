"""Synchronous single calls through a server: a lone point written without thread hops, and a
client that never stores a point twice when the server goes away mid-call."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator

import pytest
from scripted_servers import OK, RESET, ScriptedChannel, ScriptedHTTP, scripted_fixture
from server_helpers import ThreadServer

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric
from notebook_tracker.errors import AuthRefused, ServerUnreachable, TrackerError
from notebook_tracker.server.ingest import group_writer
from notebook_tracker.server.mlflow_api import sync_calls
from notebook_tracker.store.rest import RestStore
from notebook_tracker.store.rest_transport import Transport

TOKEN = "sync-calls-token"


@pytest.fixture
def app_server(store_uri: str, monkeypatch) -> Iterator[tuple[ThreadServer, object]]:
    """The standalone app on each backend, in this process (its writer can be inspected); no
    commit counts as slow unless a test says so."""
    from notebook_tracker.server.standalone import make_app, make_context

    monkeypatch.setattr(sync_calls, "SLOW_COMMIT_S", 60.0)
    monkeypatch.setattr(sync_calls, "STALL_S", 60.0)
    monkeypatch.setattr(sync_calls, "_loop_closed_until", 0.0)
    monkeypatch.setattr(sync_calls, "_window", sync_calls.CommitWindow())
    monkeypatch.setattr(sync_calls, "_tracked", False)  # no fast-calls server seen yet

    context = make_context(store_uri, None, auth_token=TOKEN)
    running = ThreadServer(make_app(context))
    yield running, context
    running.stop()
    context.close()


@pytest.fixture
def slow_standalone(store_uri: str, monkeypatch) -> Iterator[tuple[ThreadServer, object]]:
    """The standalone worker's HTTP server (fast calls in front of the app), on each backend,
    with every commit counting as slow."""
    from notebook_tracker.server.standalone import make_context, make_http_server

    monkeypatch.setattr(sync_calls, "SLOW_COMMIT_S", 0.0)
    monkeypatch.setattr(sync_calls, "SLOW_IN_WINDOW", 1)
    monkeypatch.setattr(sync_calls, "_loop_closed_until", 0.0)
    monkeypatch.setattr(sync_calls, "_window", sync_calls.CommitWindow())
    monkeypatch.setattr(sync_calls, "_tracked", False)
    monkeypatch.setattr(sync_calls, "_last_connection", 0)
    monkeypatch.setattr(sync_calls, "_shared_until", 0.0)
    context = make_context(store_uri, None, auth_token=TOKEN)
    running = ThreadServer(make=lambda: make_http_server(context))
    yield running, context
    running.stop()
    context.close()


def _client(server: ThreadServer) -> TrackingClient:
    return TrackingClient(server.url, store=RestStore(server.url, token=TOKEN))


def _history(client: TrackingClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def test_lone_points_are_written_without_thread_hops_and_read_back_exactly(app_server):
    """On SQLite the IO loop writes them (no writer thread); on PostgreSQL the server's pool
    (concurrent transactions), as before."""
    server, context = app_server
    client = _client(server)
    run_id = client.create_run("0").info.run_id
    for step in range(5):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)  # one-point log-batch
    transport = Transport(server.url, token=TOKEN)
    for step in range(5, 8):  # MLflow's runs/log-metric
        transport.call(
            "POST",
            "api/2.0/mlflow/runs/log-metric",
            body={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": step},
        )
    writer = group_writer(context.store)
    assert writer is not None
    if writer.serial:
        assert writer._thread is None  # every write stayed on the IO loop
    expected = [(s, 1.0 / (s + 1)) for s in range(5)] + [(s, 0.5) for s in range(5, 8)]
    assert _history(client, run_id, "loss") == expected


def test_after_a_slow_loop_commit_points_take_the_writer_thread_and_still_land(
    app_server, monkeypatch
):
    server, context = app_server
    monkeypatch.setattr(sync_calls, "SLOW_COMMIT_S", 0.0)  # every commit is slow
    monkeypatch.setattr(sync_calls, "SLOW_IN_WINDOW", 1)  # and one is enough to close the loop
    client = _client(server)
    run_id = client.create_run("0").info.run_id
    for step in range(4):
        client.log_metric(run_id, "m", float(step), step=step)
    writer = group_writer(context.store)
    assert writer is not None
    if writer.serial:
        assert writer._thread is not None  # the loop was closed after the first commit
    assert _history(client, run_id, "m") == [(s, float(s)) for s in range(4)]


def test_after_a_slow_loop_commit_params_and_tags_take_the_writer_thread_and_land(
    app_server, monkeypatch
):
    server, context = app_server
    client = _client(server)
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "first", 0)  # a quick loop commit: the loop stays open
    writer = group_writer(context.store)
    assert writer is not None
    if writer.serial:
        assert writer._thread is None
    monkeypatch.setattr(sync_calls, "SLOW_COMMIT_S", 0.0)  # every commit is slow from now
    monkeypatch.setattr(sync_calls, "SLOW_IN_WINDOW", 1)  # and one is enough to close the loop
    for i in range(3):
        client.log_param(run_id, f"p{i}", i)
        client.set_tag(run_id, f"t{i}", i)
    if writer.serial:
        assert writer._thread is not None  # the loop was closed after the next commit
    data = client.get_run(run_id).data
    assert data.params == {"first": "0", "p0": "0", "p1": "1", "p2": "2"}
    assert {f"t{i}": str(i) for i in range(3)}.items() <= data.tags.items()


def test_checkpoints_and_odd_slow_commits_keep_the_loop_open(loop_commits):
    """SQLite's automatic checkpoint (1-10 ms, about one commit in 250) and a shared disk's
    odd 2-4 ms fdatasync among 0.2-0.4 ms commits leave writes on the loop."""
    for i in range(1000):
        spike = 0.009 if i % 250 == 249 else 0.003 if i % 37 == 0 else 0.0003
        sync_calls.loop_commit_took(spike)
        assert sync_calls._loop_open(), i


def test_a_disk_slow_for_half_the_window_closes_the_loop(loop_commits):
    for _ in range(50):
        sync_calls.loop_commit_took(0.0003)
    slow = 0
    while sync_calls._loop_open():
        sync_calls.loop_commit_took(0.005)
        slow += 1
    assert slow == sync_calls.SLOW_IN_WINDOW


def test_one_commit_that_stalls_the_loop_closes_it_at_once(loop_commits):
    sync_calls.loop_commit_took(0.0002)
    sync_calls.loop_commit_took(0.05)  # a network disk's commit
    assert not sync_calls._loop_open()


def test_after_the_back_off_the_loop_reopens_with_a_fresh_window(loop_commits, monkeypatch):
    """The slow spell that closed the loop is not held against it once the back-off is over:
    a few slow commits then do not close it again."""
    monkeypatch.setattr(sync_calls, "BACKOFF_S", 0.0)
    closed_at = sync_calls._loop_closed_until
    while sync_calls._loop_closed_until == closed_at:
        sync_calls.loop_commit_took(0.005)
    reopened = sync_calls._loop_closed_until
    for _ in range(sync_calls.SLOW_IN_WINDOW - 1):
        sync_calls.loop_commit_took(0.005)
    assert sync_calls._loop_closed_until == reopened
    assert sync_calls._loop_open()


def test_a_lone_clients_writes_stay_on_the_loop_after_slow_commits(slow_standalone):
    """One client on one kept connection waits for each commit anyway: a slow one does not
    send its next calls through the writer thread (the back-off protects other clients)."""
    server, context = slow_standalone
    client = _client(server)
    run_id = client.create_run("0").info.run_id
    for step in range(4):
        client.log_metric(run_id, "m", float(step), step=step)
        client.log_param(run_id, f"p{step}", step)
        client.set_tag(run_id, "t", step)
    writer = group_writer(context.store)
    assert writer is not None
    if writer.serial:
        assert writer._thread is None  # every write stayed on the IO loop
    assert _history(client, run_id, "m") == [(s, float(s)) for s in range(4)]
    data = client.get_run(run_id).data
    assert data.params == {f"p{s}": str(s) for s in range(4)}
    assert data.tags["t"] == "3"


def test_a_second_connection_brings_back_the_back_off_after_a_slow_commit(slow_standalone):
    server, context = slow_standalone
    client = _client(server)
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 0.0, step=0)  # slow, on the loop: the client is alone
    writer = group_writer(context.store)
    assert writer is not None
    if writer.serial:
        assert writer._thread is None
    assert _client(server).get_run(run_id).info.run_id == run_id  # a second connection
    for step in range(1, 4):
        client.log_metric(run_id, "m", float(step), step=step)
        client.log_param(run_id, f"p{step}", step)
    if writer.serial:
        assert writer._thread is not None  # shared: the slow commit closed the loop
    assert _history(client, run_id, "m") == [(s, float(s)) for s in range(4)]
    assert client.get_run(run_id).data.params == {f"p{s}": str(s) for s in range(1, 4)}


def test_a_lone_point_to_a_deleted_run_is_refused_and_nothing_lands(app_server):
    server, _ = app_server
    client = _client(server)
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    with pytest.raises(TrackerError, match="deleted"):
        client.log_metric(run_id, "m", 1.0, step=0)
    client.restore_run(run_id)
    assert _history(client, run_id, "m") == []


def test_points_from_many_connections_at_once_all_land_once(app_server):
    server, _ = app_server
    setup = _client(server)
    run_ids = [setup.create_run("0").info.run_id for _ in range(4)]
    errors: list[str] = []

    def log(run_id: str) -> None:
        client = _client(server)
        for step in range(40):
            try:
                client.log_metric(run_id, "m", float(step), step=step)
            except Exception as exc:  # reported below
                errors.append(repr(exc))

    threads = [threading.Thread(target=log, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for run_id in run_ids:
        assert _history(setup, run_id, "m") == [(s, float(s)) for s in range(40)]


def test_a_changed_token_is_refused_on_the_kept_connection(app_server):
    server, _ = app_server
    store = RestStore(server.url, token=TOKEN, max_retries=0)
    run_id = store.create_run("0", "u", 1).info.run_id
    store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    store.http.token = "not-the-token"  # same Transport, same kept socket
    with pytest.raises(AuthRefused):
        store.log_batch(run_id, metrics=[Metric("m", 2.0, 1, 1)])
    store.http.token = TOKEN
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0]


# -- a server that misbehaves after reading the request ------------------------------------------
_http = scripted_fixture(ScriptedHTTP, "_http")
_channel = scripted_fixture(ScriptedChannel, "_channel")


@pytest.fixture(params=["http", "channel"])
def scripted(request, monkeypatch):
    """Scripted servers speaking HTTP to an HTTP-only client, or the call channel."""
    if request.param == "http":
        monkeypatch.setenv("NOTEBOOK_TRACKER_NO_CALL_CHANNEL", "1")
    return request.getfixturevalue(f"_{request.param}")


@pytest.fixture
def scripted_http(_http, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_TRACKER_NO_CALL_CHANNEL", "1")
    return _http


def test_a_point_the_server_took_without_answering_is_reported_not_sent_twice(scripted):
    server = scripted([None, OK])
    store = RestStore(server.url, max_retries=3, backoff_s=0.01)
    with pytest.raises(ServerUnreachable, match="not sent again") as info:
        store.log_batch("r" * 32, metrics=[Metric("m", 1.0, 1, 0)])
    assert "stored twice" in str(info.value)
    assert len(server.received) == 1


def test_a_point_the_server_never_read_is_sent_again_and_lands_once(scripted):
    server = scripted([OK, RESET, OK])  # its worker dies between two calls on a kept socket
    store = RestStore(server.url, max_retries=0)
    store.log_batch("r" * 32, metrics=[Metric("m", 1.0, 1, 0)])
    store.log_batch("r" * 32, metrics=[Metric("m", 2.0, 1, 1)])
    assert len(server.received) == 2 and b'"value": 2.0' in server.received[1]
    if isinstance(server, ScriptedChannel):
        assert server.upgrades == 2  # the second call upgraded a fresh connection


def test_a_param_the_server_took_without_answering_is_sent_again(scripted):
    server = scripted([None, OK])
    store = RestStore(server.url, max_retries=3, backoff_s=0.01)
    from notebook_tracker.entities import Param

    store.log_batch("r" * 32, params=[Param("p", "1")])
    assert len(server.received) == 2


@pytest.mark.parametrize(
    "kind, reply",
    [
        ("http", b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}"),
        ("http", b"SMTP ready\r\n\r\n"),
        ("http", b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n{}"),
        ("http", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
        ("channel", struct.pack(">IH", 2, 7) + b"{}"),
        ("channel", struct.pack(">IH", 2, 200) + b"{}extra"),
    ],
    ids=["status", "not-http", "length", "chunk-size", "frame-status", "frame-trailing-bytes"],
)
def test_a_garbled_reply_to_a_point_is_a_clear_error_and_not_resent(request, kind, reply):
    server = request.getfixturevalue("scripted_http" if kind == "http" else "_channel")
    server = server([reply, OK])
    store = RestStore(server.url, max_retries=3, backoff_s=0.01)
    with pytest.raises(ServerUnreachable, match="no usable answer"):
        store.log_batch("r" * 32, metrics=[Metric("m", 1.0, 1, 0)])
    assert len(server.received) == 1


def test_a_slow_reply_to_a_point_times_out_clearly_and_is_not_resent(scripted_http):
    server = scripted_http(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", OK]
    )  # body never comes
    store = RestStore(server.url, max_retries=3, backoff_s=0.01, timeout_s=0.5)
    with pytest.raises(ServerUnreachable, match="timed out|short"):
        store.log_batch("r" * 32, metrics=[Metric("m", 1.0, 1, 0)])
    assert len(server.received) == 1


def test_chunked_replies_and_kept_connections_are_read(scripted_http):
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"a":\r\n2;ext=1\r\n1}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    server = scripted_http([chunked, OK, OK])
    transport = Transport(server.url, max_retries=0)
    assert transport.call("POST", "x", body={}) == {"a": 1}
    assert transport.call("POST", "x", body={}) == {}
    assert transport.call("GET", "x") == {}
    assert len(server.received) == 3


# -- a real two-worker server whose workers die between calls ------------------------------------
@pytest.mark.slow
def test_points_after_the_workers_were_killed_between_calls_land_once(tmp_path):
    import os
    import signal

    from helpers import wait_until
    from standalone_server import running_server

    with running_server(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", workers=2) as server:
        client = TrackingClient(server.url, store=RestStore(server.url))
        run_id = client.create_run("0").info.run_id
        for step in range(3):
            client.log_metric(run_id, "m", float(step), step=step)
        killed = server.worker_pids()
        for pid in killed:  # the kept connection's worker among them
            os.kill(pid, signal.SIGKILL)

        def replaced() -> bool:
            pids = server.worker_pids()
            return len(pids) == 2 and not set(pids) & set(killed)

        wait_until(replaced, timeout=30, what="workers restarted")
        for step in range(3, 6):
            client.log_metric(run_id, "m", float(step), step=step)
        assert _history(client, run_id, "m") == [(s, float(s)) for s in range(6)]

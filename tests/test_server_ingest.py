"""Server ingest: the compact endpoint, group commit, and the client's choice of format."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import free_port, port_is_open, wait_until
from standalone_server import ServerProcess, running_server
from warm_start import WarmStart

from notebook_tracker.entities import Metric
from notebook_tracker.errors import InvalidParameter, NotFound
from notebook_tracker.server.ingest import GroupWriter, _Job
from notebook_tracker.store.rest import RestStore
from notebook_tracker.store.rest_outbox import RestOutbox
from notebook_tracker.store.sql import SqlStore
from notebook_tracker.wire import batch

FRAME = {"Content-Type": batch.CONTENT_TYPE}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("ingest")
    with running_server(tmp, f"sqlite:///{tmp / 'db.sqlite'}", workers=2) as srv:
        yield srv


def _run(server: ServerProcess) -> str:
    status, body = server.json("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "0"})
    assert status == 200, body
    return str(body["run"]["info"]["run_id"])


def _history(server: ServerProcess, run_id: str, key: str) -> list[dict]:
    status, body = server.json(
        "GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={key}"
    )
    assert status == 200, body
    return body.get("metrics", [])


# -- the endpoint --------------------------------------------------------------------------------
def test_the_server_says_it_takes_compact_frames(server):
    status, body = server.json("GET", "/api/ingest")
    assert status == 200
    assert body["formats"] == ["ntb1"] and body["content_type"] == batch.CONTENT_TYPE


def test_a_frame_is_stored_exactly_and_read_back_through_mlflows_api(server):
    run_id = _run(server)
    rows = [(run_id, "loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(500)]
    rows += [(run_id, "odd", math.nan, 5, 2**40), (run_id, "odd", -math.inf, 6, -(2**40))]
    status, _, raw = server.request("POST", "/api/ingest", batch.encode(run_id, rows), FRAME)
    assert status == 200 and json.loads(raw) == {"points": 502}
    loss = _history(server, run_id, "loss")
    assert [(m["step"], m["timestamp"], m["value"]) for m in loss] == [
        (s, 1_700_000_000_000 + s, 1.0 / (s + 1)) for s in range(500)
    ]
    odd = sorted(_history(server, run_id, "odd"), key=lambda m: m["step"])
    assert [(m["step"], m["value"]) for m in odd] == [(-(2**40), "-Infinity"), (2**40, "NaN")]
    status, run = server.json("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
    latest = {m["key"]: m for m in run["run"]["data"]["metrics"]}
    assert latest["loss"]["value"] == 1.0 / 500 and latest["odd"]["value"] == "NaN"


@pytest.mark.parametrize(
    ("body", "headers", "status", "named"),
    [
        (b"NTB1\xff\xff\xff\xff", FRAME, 400, "header claims"),
        (b"garbage", FRAME, 400, "Malformed compact batch frame"),
        (b"NTB1", {"Content-Type": "application/json"}, 400, "Content-Type must be"),
    ],
)
def test_a_bad_frame_is_a_json_400_naming_the_problem(server, body, headers, status, named):
    got, _, raw = server.request("POST", "/api/ingest", body, headers)
    assert got == status
    reply = json.loads(raw)
    assert reply["error_code"] == "INVALID_PARAMETER_VALUE" and named in reply["message"]


def test_an_oversized_frame_is_a_json_413(server):
    run_id = _run(server)
    huge = batch.encode(run_id, [(run_id, "m", 0.0, 0, s) for s in range(800_000)])  # 19 MB
    got, _, raw = server.request("POST", "/api/ingest", huge, FRAME)
    assert got == 413 and "exceeds the limit" in json.loads(raw)["message"]


def test_frames_for_a_deleted_or_unknown_run_are_refused_and_nothing_is_stored(server):
    run_id = _run(server)
    assert server.json("POST", "/api/2.0/mlflow/runs/delete", {"run_id": run_id})[0] == 200
    frame = batch.encode(run_id, [(run_id, "m", 1.0, 1, 1)])
    got, _, raw = server.request("POST", "/api/ingest", frame, FRAME)
    assert got == 400 and "is deleted" in json.loads(raw)["message"]
    assert server.json("POST", "/api/2.0/mlflow/runs/restore", {"run_id": run_id})[0] == 200
    assert _history(server, run_id, "m") == []
    ghost = "f" * 32
    got, _, raw = server.request(
        "POST", "/api/ingest", batch.encode(ghost, [(ghost, "m", 1, 1, 1)]), FRAME
    )
    assert got == 404 and json.loads(raw)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_endpoint_demands_the_servers_token(tmp_path):
    with running_server(
        tmp_path, f"sqlite:///{tmp_path / 'db'}", workers=1, token="s3cret-token-xyz"
    ) as srv:
        run_id = "a" * 32
        got, _, _ = srv.request(
            "POST", "/api/ingest", batch.encode(run_id, [(run_id, "m", 1, 1, 1)]), FRAME, token=None
        )
        assert got == 401
        assert srv.request("GET", "/api/ingest", token=None)[0] == 401


def test_json_log_batches_from_many_connections_at_once_all_land(server):
    run_ids = [_run(server) for _ in range(8)]
    errors: list[str] = []

    def log(run_id: str) -> None:
        store = RestStore(server.url)
        for step in range(15):
            metrics = [Metric(f"m{k}", float(step), 1000 + step, step) for k in range(50)]
            try:
                store.log_batch(run_id, metrics=metrics)
            except Exception as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=log, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for run_id in run_ids:
        assert [m["step"] for m in _history(server, run_id, "m49")] == list(range(15))


# -- group commit --------------------------------------------------------------------------------
def test_one_bad_request_in_a_group_fails_alone_and_the_others_land(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    good, deleted = (store.create_run("0", "u", 1).info.run_id for _ in range(2))
    store.delete_run(deleted)
    writer = GroupWriter(store)
    # Queued before the writer thread exists, so its first group holds all three.
    jobs = [_Job([(good, "m", 1.0, 1, 1)], (), 1), _Job([(deleted, "m", 2.0, 2, 2)], (), 1)]
    writer._pending.extend(jobs)
    last = writer.submit(rows=[(good, "m", 3.0, 3, 3)])
    last.result(timeout=30)
    jobs[0].done.result(timeout=30)
    with pytest.raises(InvalidParameter, match="is deleted"):
        jobs[1].done.result(timeout=30)
    assert [m.value for m in store.get_metric_history(good, "m")] == [1.0, 3.0]
    assert list(store.get_metric_history(deleted, "m")) == []
    with pytest.raises(NotFound):
        writer.write(rows=[("0" * 32, "m", 1.0, 1, 1)])


def test_a_merge_failing_after_the_answers_leaves_the_writer_serving(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from notebook_tracker.store.sql_ingest import GroupWrite

    def broken(self: GroupWrite) -> None:
        raise RuntimeError("merge bug")

    monkeypatch.setattr(GroupWrite, "compact", broken)
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    writer = GroupWriter(store)
    with caplog.at_level(logging.ERROR, logger="notebook_tracker.server.ingest"):
        for step in range(3):  # the same writer thread answers each, after a failed merge
            assert writer.submit(rows=[(run_id, "m", float(step), 1, step)]).result(30) is True
        wait_until(  # each merge step comes after its answer
            lambda: caplog.text.count("could not merge metric chunks") == 3,
            timeout=30,
            what="the third merge's log line",
        )
    assert [m.step for m in store.get_metric_history(run_id, "m")] == [0, 1, 2]


def test_requests_waiting_together_share_one_transaction(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    writer = GroupWriter(store)
    jobs = [_Job([(run_id, "m", float(i), i, i)], (), 1) for i in range(20)]
    writer._pending.extend(jobs)
    writer.submit(rows=[(run_id, "m", 20.0, 20, 20)]).result(timeout=30)
    for job in jobs:
        job.done.result(timeout=30)
    assert writer.groups == 1
    assert [m.step for m in store.get_metric_history(run_id, "m")] == list(range(21))


def test_requests_read_on_the_writer_thread_share_a_group_and_answer_for_themselves(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    writer = GroupWriter(store)

    def bad_key() -> None:
        raise InvalidParameter("Invalid metric name '/x'")

    reads = [
        _Job((), (), 1, read=lambda: [(run_id, "m", 1.0, 1, 1)]),
        _Job((), (), 1, read=bad_key),
        _Job((), (), 1, read=lambda: None),  # not points this writer takes: nothing written
        _Job((), (), 1, read=lambda: [(run_id, "m", 2.0, 2, 2)]),
    ]
    writer._pending.extend(reads)  # queued before the writer thread exists: one group
    assert writer.submit(rows=[(run_id, "m", 3.0, 3, 3)]).result(timeout=30) is True
    assert reads[0].done.result(timeout=30) is True
    with pytest.raises(InvalidParameter, match="/x"):
        reads[1].done.result(timeout=30)
    assert reads[2].done.result(timeout=30) is False
    assert reads[3].done.result(timeout=30) is True
    assert writer.groups == 1
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 2.0, 3.0]


def _another_workers_turn(writer: GroupWriter) -> int:
    """Hold the writers' turn as another worker of the server would (the lock file, flock)."""
    import fcntl

    assert writer._lock_path is not None
    held = os.open(writer._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)
    return held


def _waiting_for_the_turn(writer: GroupWriter) -> bool:
    return not writer._pending and writer._busy.locked()


def test_points_queued_while_the_writer_waits_for_its_turn_join_that_transaction(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    runs = [store.create_run("0", "u", 1).info.run_id for _ in range(3)]
    deleted = store.create_run("0", "u", 1).info.run_id
    store.delete_run(deleted)
    writer = GroupWriter(store)
    held = _another_workers_turn(writer)
    try:
        first = writer.submit(rows=[(runs[0], f"k{k}", 1.0, 1, 1) for k in range(10)])
        wait_until(lambda: _waiting_for_the_turn(writer), timeout=30)
        late = [writer.submit(rows=[(run_id, "m", 2.0, 2, 2)]) for run_id in runs[1:]]
        too_big = writer.submit(rows=[(runs[1], "m", 3.0, 3, 2**63)])  # past 64 bits
        gone = writer.submit(rows=[(deleted, "m", 4.0, 4, 4)])
        assert not first.done()  # the other worker still writes
    finally:
        os.close(held)  # its turn ends
    assert first.result(timeout=30) is True
    assert [f.result(timeout=30) for f in late] == [True, True]
    with pytest.raises(InvalidParameter, match="64"):
        too_big.result(timeout=30)
    with pytest.raises(InvalidParameter, match="is deleted"):
        gone.result(timeout=30)
    # The first try held all five: it failed on the deleted run, and each was then written
    # alone (the three good ones landed); without the deleted run it is one transaction.
    assert [m.value for m in store.get_metric_history(runs[1], "m")] == [2.0]
    assert [m.value for m in store.get_metric_history(runs[2], "m")] == [2.0]
    assert len(store.get_run(runs[0]).data.metrics) == 10


def test_a_writer_that_waited_for_its_turn_commits_the_queued_points_once(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    runs = [store.create_run("0", "u", 1).info.run_id for _ in range(4)]
    writer = GroupWriter(store)
    held = _another_workers_turn(writer)
    try:
        first = writer.submit(rows=[(runs[0], "m", 1.0, 1, 1)])
        wait_until(lambda: _waiting_for_the_turn(writer), timeout=30)
        late = [writer.submit(rows=[(r, "m", 2.0, 2, 2)]) for r in runs[1:]]
    finally:
        os.close(held)
    assert first.result(timeout=30) and all(f.result(timeout=30) for f in late)
    assert writer.groups == 1  # one transaction, where each request had its own
    for run_id in runs:
        assert len(store.get_metric_history(run_id, "m")) == 1


# -- the client's format -------------------------------------------------------------------------
def test_the_outbox_sends_compact_frames_to_this_server(server):
    run_id = _run(server)
    outbox = RestOutbox(server.url, None)
    try:
        outbox.write([(run_id, "m", float(s), 10 + s, s) for s in range(3000)])
        outbox.settle(raise_errors=True)
        assert outbox.compact is True
    finally:
        outbox.close()
    assert [m["step"] for m in _history(server, run_id, "m")] == list(range(3000))


def _start_mlflow_server() -> tuple[subprocess.Popen[bytes], str, Path]:
    import mlflow  # noqa: F401  (the fixture skips without it)

    tmp = Path(tempfile.mkdtemp(prefix="nbt-stock-mlflow-"))
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with (tmp / "mlflow.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--workers", "1",
             "--artifacts-destination", str(tmp / "artifacts")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )  # fmt: skip
    started = (proc, f"http://127.0.0.1:{port}", tmp)
    try:
        wait_until(lambda: proc.poll() is not None or port_is_open("127.0.0.1", port),
                   timeout=180, what="mlflow server")  # fmt: skip
        if proc.poll() is not None:
            raise RuntimeError((tmp / "mlflow.log").read_text(errors="replace")[-2000:])
    except BaseException:
        _stop_mlflow_server(started)
        raise
    return started


def _stop_mlflow_server(started: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    proc, _url, tmp = started
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            # Its store is thrown away: no need to wait out a graceful shutdown, which took
            # 15-20 s once the server had been up for a while.
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)


# The stock server takes 10-40 s to start (its migrations, then its workers): it is begun in
# the background early in the run (warm_start.py) and overlaps the tests before it.
MLFLOW_SERVER = WarmStart("mlflow_server", _start_mlflow_server, _stop_mlflow_server)
WARM_STARTS = [MLFLOW_SERVER]


@pytest.fixture(scope="module")
def mlflow_server() -> Iterator[str]:
    pytest.importorskip("mlflow", reason="the stock MLflow server is the fallback's counterpart")
    _proc, url, _tmp = MLFLOW_SERVER.result()
    try:
        yield url
    finally:
        MLFLOW_SERVER.close()


def test_the_outbox_falls_back_to_json_against_a_stock_mlflow_server(mlflow_server):
    import mlflow

    client = mlflow.MlflowClient(mlflow_server)
    run_id = client.create_run("0").info.run_id
    outbox = RestOutbox(mlflow_server, None)
    try:
        outbox.write([(run_id, "m", float(s), 10 + s, s) for s in range(1500)])
        outbox.write([(run_id, "m", math.nan, 5000, 1500)])
        outbox.settle(raise_errors=True)
        assert outbox.compact is False
    finally:
        outbox.close()
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(1501))
    assert math.isnan(history[-1].value)


def test_a_journaled_frame_is_resent_as_json_when_the_server_no_longer_takes_frames(mlflow_server):
    import mlflow

    client = mlflow.MlflowClient(mlflow_server)
    run_id = client.create_run("0").info.run_id
    outbox = RestOutbox(mlflow_server, None)
    outbox.compact = True  # as if the points were encoded for a notebook-tracker server
    try:
        outbox.write([(run_id, "m", float(s), 10 + s, s) for s in range(10)])
        outbox.settle(raise_errors=True)
        assert outbox.compact is False
    finally:
        outbox.close()
    assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(10))


def test_frames_fit_the_servers_body_limit(tmp_path):
    args = ["--max-body-size", str(1024 * 1024)]
    with running_server(
        tmp_path, f"sqlite:///{tmp_path / 'db'}", workers=1, extra_args=args
    ) as srv:
        run_id = _run(srv)
        outbox = RestOutbox(srv.url, None)
        try:
            outbox.write([(run_id, "m", float(s), 10 + s, s) for s in range(100_000)])
            outbox.settle(raise_errors=True)
            assert outbox.compact is True and outbox.frame_points < 100_000
        finally:
            outbox.close()
        assert len(_history(srv, run_id, "m")) == 100_000


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> SqlStore:
    if request.param == "sqlite":
        return SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    return SqlStore(request.getfixturevalue("postgres_uri"))


def test_a_group_of_frames_and_rows_is_stored_on_every_sql_backend(sql_store):
    a, b = (sql_store.create_run("0", "u", 1).info.run_id for _ in range(2))
    rows_a = [(a, "loss", float(s), 100 + s, s) for s in range(50)] + [(a, "loss", math.nan, 7, 99)]
    frame_b = batch.decode(batch.encode(b, [(b, "acc", 0.5, 3, 2**62), (b, "acc", -1.0, 4, -3)]))
    writer = GroupWriter(sql_store)
    writer.write(
        rows=[(a, "json", 1.0, 1, 1)],
        columns=[(a, c) for c in batch.decode(batch.encode(a, rows_a)).columns],
    )
    writer.write(columns=[(b, c) for c in frame_b.columns])
    loss = sql_store.get_metric_history(a, "loss")
    assert [m.step for m in loss] == [*range(50), 99] and math.isnan(loss[-1].value)
    assert [m.value for m in sql_store.get_metric_history(a, "json")] == [1.0]
    assert [(m.step, m.value) for m in sql_store.get_metric_history(b, "acc")] == [
        (-3, -1.0),
        (2**62, 0.5),
    ]
    latest = sql_store.get_run(b).data.metrics
    assert latest["acc"] == 0.5

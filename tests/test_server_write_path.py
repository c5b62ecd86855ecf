"""The server's logging endpoints (log-parameter, set-tag, log-metric, log-batch): written on the
worker's writer thread straight from the IO loop, with every rule of the store kept."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Iterator

import pytest
from standalone_server import ServerProcess, running_server

from notebook_tracker.entities import Param
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.server.ingest import GroupWriter, _Job
from notebook_tracker.store.sql import SqlStore

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("write-path")
    with running_server(tmp, f"sqlite:///{tmp / 'db.sqlite'}", workers=2) as srv:
        yield srv


def _run(server: ServerProcess) -> str:
    status, body = server.json("POST", f"{API}/runs/create", {"experiment_id": "0"})
    assert status == 200, body
    return str(body["run"]["info"]["run_id"])


def _data(server: ServerProcess, run_id: str) -> dict:
    status, body = server.json("GET", f"{API}/runs/get?run_id={run_id}")
    assert status == 200, body
    return body["run"]["data"]


WRITES = [
    ("runs/log-parameter", {"key": "p", "value": "1"}),
    ("runs/set-tag", {"key": "t", "value": "1"}),
    ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}),
    ("runs/log-batch", {"metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]}),
    (
        "runs/log-batch",
        {"params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "1"}]},
    ),
]


@pytest.mark.parametrize(
    ("path", "fields"), WRITES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(WRITES)]
)
def test_a_write_to_a_deleted_run_is_a_json_400_and_nothing_lands(server, path, fields):
    run_id = _run(server)
    assert server.json("POST", f"{API}/runs/delete", {"run_id": run_id})[0] == 200
    status, body = server.json("POST", f"{API}/{path}", {"run_id": run_id, **fields})
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "is deleted" in body["message"] and "restore" in body["message"]
    assert server.json("POST", f"{API}/runs/restore", {"run_id": run_id})[0] == 200
    data = _data(server, run_id)
    assert not data.get("params") and not data.get("metrics")
    assert all(t["key"].startswith("mlflow.") for t in data.get("tags", []))


@pytest.mark.parametrize(
    ("path", "fields"), WRITES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(WRITES)]
)
def test_a_write_to_an_unknown_run_is_a_json_404(server, path, fields):
    status, body = server.json("POST", f"{API}/{path}", {"run_id": "f" * 32, **fields})
    assert status == 404, body
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST" and "f" * 32 in body["message"]


def test_a_changed_param_is_refused_naming_both_values_and_the_first_stays(server):
    run_id = _run(server)
    assert (
        server.json(
            "POST", f"{API}/runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}
        )[0]
        == 200
    )
    status, body = server.json(
        "POST", f"{API}/runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}
    )
    assert status == 400, body
    assert "'0.1'" in body["message"] and "'0.2'" in body["message"]
    assert _data(server, run_id)["params"] == [{"key": "lr", "value": "0.1"}]


def test_a_bad_key_is_a_json_400_naming_it(server):
    run_id = _run(server)
    status, body = server.json(
        "POST", f"{API}/runs/set-tag", {"run_id": run_id, "key": "../x", "value": "1"}
    )
    assert status == 400, body
    assert "../x" in body["message"]


def test_params_and_tags_from_many_connections_at_once_all_land(server):
    run_ids = [_run(server) for _ in range(4)]
    errors: list[str] = []

    def client(run_id: str) -> None:
        for i in range(15):
            for path, fields in (
                ("runs/log-parameter", {"key": f"p{i}", "value": str(i)}),
                ("runs/set-tag", {"key": "last", "value": str(i)}),
            ):
                status, body = server.json("POST", f"{API}/{path}", {"run_id": run_id, **fields})
                if status != 200:
                    errors.append(f"{status} {body}")

    threads = [threading.Thread(target=client, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for run_id in run_ids:
        data = _data(server, run_id)
        assert {p["key"]: p["value"] for p in data["params"]} == {
            f"p{i}": str(i) for i in range(15)
        }
        assert {t["key"]: t["value"] for t in data["tags"]}["last"] == "14"


def test_a_failing_write_queued_with_points_fails_alone_and_the_points_land(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    writer = GroupWriter(store)
    assert writer.serial

    def bad() -> None:
        raise InvalidParameter("refused")

    failing = _Job((), (), 0, bad)
    points = _Job([(run_id, "m", 1.0, 1, 1)], (), 1)
    writer._pending.extend([failing, points])  # queued before the thread: one group
    writer.submit(rows=[(run_id, "m", 2.0, 2, 2)]).result(timeout=30)
    points.done.result(timeout=30)
    with pytest.raises(InvalidParameter, match="refused"):
        failing.done.result(timeout=30)
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 2.0]
    assert writer.groups == 1  # the points still shared one transaction


# -- a param or tag write that waits for nothing is done at once -------------------------------
def test_a_lone_param_write_is_committed_at_once_without_the_writer_thread(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    writer = GroupWriter(store)
    asyncio.run(writer.call_async(lambda: store.log_batch(run_id, params=[Param("p", "1")])))
    assert writer._thread is None  # no thread crossed
    assert store.get_run(run_id).data.params == {"p": "1"}


def test_a_write_done_at_once_still_refuses_a_deleted_run_and_writes_nothing(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    store.delete_run(run_id)
    writer = GroupWriter(store)
    with pytest.raises(InvalidParameter, match="is deleted"):
        asyncio.run(writer.call_async(lambda: store.log_batch(run_id, params=[Param("p", "1")])))
    store.restore_run(run_id)
    assert store.get_run(run_id).data.params == {}


def test_a_write_while_another_worker_has_the_turn_waits_for_it(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    run_id = store.create_run("0", "u", 1).info.run_id
    writer = GroupWriter(store)
    other = os.open(f"{tmp_path / 'g.db'}-ingest.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # another worker's turn
    done = threading.Event()

    def write() -> None:
        asyncio.run(writer.call_async(lambda: store.log_batch(run_id, params=[Param("p", "1")])))
        done.set()

    waiting = threading.Thread(target=write)
    waiting.start()
    try:
        assert not done.wait(0.5)  # queued for the writer thread, not written past the turn
        assert store.get_run(run_id).data.params == {}
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    waiting.join(30)
    assert done.is_set() and writer._thread is not None
    assert store.get_run(run_id).data.params == {"p": "1"}

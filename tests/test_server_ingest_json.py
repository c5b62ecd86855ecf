"""MLflow's JSON log-batch and log-metric through the server's group commit, and synchronous
log-parameter and set-tag (straight to the driver on SQLite), on SQLite and PostgreSQL: what is
stored, what is refused (and that nothing of a refused request is), and a worker killed while
requests are in flight."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import fresh_postgres_database, wait_until
from standalone_server import ServerProcess, running_server

from notebook_tracker.store.sql import SqlStore

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def _module_postgres(_postgres_server_uri: str) -> Iterator[str]:
    """A PostgreSQL database of this module's own, dropped afterwards."""
    with fresh_postgres_database(_postgres_server_uri) as uri:
        yield uri


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("ingest-json")
    uri = f"sqlite:///{tmp / 'db.sqlite'}"
    if request.param == "postgresql":
        uri = request.getfixturevalue("_module_postgres")
    with running_server(tmp, uri, artifacts=str(tmp / "artifacts"), workers=2) as srv:
        yield srv


def _run(server: ServerProcess) -> str:
    status, body = server.json("POST", f"{API}/runs/create", {"experiment_id": "0"})
    assert status == 200, body
    return str(body["run"]["info"]["run_id"])


def _history(server: ServerProcess, run_id: str, key: str) -> list[tuple[int, int, object]]:
    status, body = server.json("GET", f"{API}/metrics/get-history?run_id={run_id}&metric_key={key}")
    assert status == 200, body
    return [(m["step"], m["timestamp"], m["value"]) for m in body.get("metrics", [])]


def _latest(server: ServerProcess, run_id: str) -> dict[str, object]:
    status, body = server.json("GET", f"{API}/runs/get?run_id={run_id}")
    assert status == 200, body
    return {m["key"]: m["value"] for m in body["run"]["data"].get("metrics", [])}


def _point(key: str, value: object, step: int, timestamp: int = 1000) -> dict[str, object]:
    return {"key": key, "value": value, "timestamp": timestamp, "step": step}


def test_one_point_per_key_and_repeated_keys_are_stored_exactly(server):
    run_id = _run(server)
    one_each = [_point(f"k{i}", float(i), 5) for i in range(100)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": one_each}
    )
    assert status == 200, body
    repeated = [_point("loss", float(s), s, 2000 + s) for s in (3, 1, 2)] + [_point("k7", 70.0, 6)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": repeated}
    )
    assert status == 200, body
    assert _history(server, run_id, "k42") == [(5, 1000, 42.0)]
    assert _history(server, run_id, "k7") == [(5, 1000, 7.0), (6, 1000, 70.0)]
    assert _history(server, run_id, "loss") == [(1, 2001, 1.0), (2, 2002, 2.0), (3, 2003, 3.0)]
    latest = _latest(server, run_id)
    assert latest["k7"] == 70.0 and latest["loss"] == 3.0 and latest["k99"] == 99.0


def test_nan_and_infinities_round_trip_through_a_json_batch(server):
    run_id = _run(server)
    metrics = [_point("a", "NaN", 1), _point("b", "Infinity", 1), _point("c", "-Infinity", 1)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}
    )
    assert status == 200, body
    assert [v for _, _, v in _history(server, run_id, "a")] == ["NaN"]
    assert _latest(server, run_id) == {"a": "NaN", "b": "Infinity", "c": "-Infinity"}


@pytest.mark.parametrize("value", [1.0, "NaN"])  # the common shape and the careful reader
def test_a_bad_metric_key_is_a_400_naming_it_and_nothing_of_the_batch_is_stored(server, value):
    run_id = _run(server)
    metrics = [_point("good", value, 1), _point("../escape", 2.0, 1)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}
    )
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and "../escape" in body["message"]
    status, body = server.json(
        "POST", f"{API}/runs/log-metric", {"run_id": run_id, **_point("bad//key", 1.0, 1)}
    )
    assert status == 400 and "bad//key" in body["message"], body
    assert _history(server, run_id, "good") == []
    assert _latest(server, run_id) == {}


def test_points_for_a_deleted_or_unknown_run_are_refused_and_nothing_is_stored(server):
    deleted = _run(server)
    assert server.json("POST", f"{API}/runs/delete", {"run_id": deleted})[0] == 200
    metrics = [_point(f"m{i}", 1.0, 1) for i in range(100)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": deleted, "metrics": metrics}
    )
    assert status == 400 and "deleted" in body["message"], body
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": "f" * 32, "metrics": metrics}
    )
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST", body
    assert server.json("POST", f"{API}/runs/restore", {"run_id": deleted})[0] == 200
    assert _latest(server, deleted) == {}


def test_a_batch_over_the_limit_is_a_400_saying_how_to_split_it(server):
    run_id = _run(server)
    metrics = [_point(f"m{i}", 1.0, 1) for i in range(1001)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}
    )
    assert status == 400 and "Split it" in body["message"], body
    assert _latest(server, run_id) == {}


def test_a_changed_param_in_a_batch_with_points_writes_none_of_it(server):
    run_id = _run(server)
    first = {"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}]}
    assert server.json("POST", f"{API}/runs/log-batch", first)[0] == 200
    changed = {
        "run_id": run_id,
        "params": [{"key": "lr", "value": "0.2"}],
        "metrics": [_point("loss", 1.0, 1)],
    }
    status, body = server.json("POST", f"{API}/runs/log-batch", changed)
    assert status == 400 and "immutable" in body["message"], body
    assert _history(server, run_id, "loss") == []


def test_a_worker_killed_mid_request_leaves_whole_requests_only(tmp_path):
    """Each request is one transaction: after SIGKILL of a worker while four connections send
    100-point batches, every stored step of a run holds all 100 keys or none."""
    db = tmp_path / "db.sqlite"
    with running_server(tmp_path, f"sqlite:///{db}", artifacts=str(tmp_path / "a")) as srv:
        run_ids = [_run(srv) for _ in range(4)]
        stop = threading.Event()

        def send(run_id: str) -> None:
            step = 0
            while not stop.is_set():
                metrics = [_point(f"m{k}", float(step), step) for k in range(100)]
                try:
                    srv.request(
                        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}
                    )
                except OSError:
                    pass  # the killed worker's connection
                step += 1

        threads = [threading.Thread(target=send, args=(r,)) for r in run_ids]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: _points(db) >= 4000, timeout=60, what="stored points")
            os.kill(srv.worker_pids()[0], signal.SIGKILL)
            after = _points(db) + 4000  # the other worker (and the restarted one) go on
            wait_until(lambda: _points(db) >= after, timeout=60, what="points after the kill")
        finally:
            stop.set()
            for t in threads:
                t.join()
    store = SqlStore(f"sqlite:///{db}")
    for run_id in run_ids:
        steps: dict[int, int] = {}
        for k in range(100):
            for m in store.get_metric_history(run_id, f"m{k}"):
                steps[m.step] = steps.get(m.step, 0) + 1
        assert steps and set(steps.values()) == {100}, (run_id, steps)


def _points(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT coalesce(sum(count), 0) FROM metric_chunks").fetchone()[0])


def test_values_round_trip_exactly(server):
    run_id = _run(server)
    values = [math.pi, -0.0, 5e-324, 1.7976931348623157e308]
    metrics = [_point("x", v, i) for i, v in enumerate(values)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}
    )
    assert status == 200, body
    assert [v for _, _, v in _history(server, run_id, "x")] == values


def test_params_are_immutable_and_tags_keep_their_last_value(server):
    run_id = _run(server)
    call = {"run_id": run_id, "key": "lr", "value": "0.1"}
    assert server.json("POST", f"{API}/runs/log-parameter", call)[0] == 200
    assert server.json("POST", f"{API}/runs/log-parameter", call)[0] == 200  # same value: fine
    status, body = server.json("POST", f"{API}/runs/log-parameter", {**call, "value": "0.2"})
    assert status == 400 and "immutable" in body["message"] and "0.2" in body["message"], body
    for value in ("a", "b"):
        tag = {"run_id": run_id, "key": "stage", "value": value}
        assert server.json("POST", f"{API}/runs/set-tag", tag)[0] == 200
    name = {"run_id": run_id, "key": "mlflow.runName", "value": "renamed"}
    assert server.json("POST", f"{API}/runs/set-tag", name)[0] == 200
    status, body = server.json("GET", f"{API}/runs/get?run_id={run_id}")
    data, info = body["run"]["data"], body["run"]["info"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"lr": "0.1"}
    tags = {t["key"]: t["value"] for t in data["tags"]}
    assert tags["stage"] == "b" and info["run_name"] == "renamed"


def test_a_param_or_tag_for_a_deleted_or_unknown_run_or_with_a_bad_key_is_refused(server):
    run_id = _run(server)
    assert server.json("POST", f"{API}/runs/delete", {"run_id": run_id})[0] == 200
    for route in ("log-parameter", "set-tag"):
        call = {"run_id": run_id, "key": "k", "value": "v"}
        status, body = server.json("POST", f"{API}/runs/{route}", call)
        assert status == 400 and "deleted" in body["message"], (route, body)
        status, body = server.json("POST", f"{API}/runs/{route}", {**call, "run_id": "e" * 32})
        assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST", (route, body)
    assert server.json("POST", f"{API}/runs/restore", {"run_id": run_id})[0] == 200
    for route in ("log-parameter", "set-tag"):
        call = {"run_id": run_id, "key": "a//b", "value": "v"}
        status, body = server.json("POST", f"{API}/runs/{route}", call)
        assert status == 400 and "a//b" in body["message"], (route, body)
    status, body = server.json("GET", f"{API}/runs/get?run_id={run_id}")
    assert "params" not in body["run"]["data"]
    assert not [t for t in body["run"]["data"].get("tags", []) if t["key"] in ("k", "a//b")]


def test_a_batch_of_params_and_tags_only_follows_the_same_rules(server):
    """Our client's log_param and set_tag send runs/log-batch without metrics."""
    run_id = _run(server)
    batch = {
        "run_id": run_id,
        "params": [{"key": "lr", "value": "0.1"}, {"key": "bs", "value": "32"}],
        "tags": [{"key": "stage", "value": "a"}],
    }
    assert server.json("POST", f"{API}/runs/log-batch", batch)[0] == 200
    changed = {**batch, "params": [{"key": "new", "value": "1"}, {"key": "lr", "value": "0.2"}]}
    changed["tags"] = [{"key": "stage", "value": "b"}]
    status, body = server.json("POST", f"{API}/runs/log-batch", changed)
    assert status == 400 and "immutable" in body["message"], body
    twice = {"run_id": run_id, "params": [{"key": "x", "value": "1"}, {"key": "x", "value": "2"}]}
    status, body = server.json("POST", f"{API}/runs/log-batch", twice)
    assert status == 400 and "twice" in body["message"], body
    status, body = server.json("GET", f"{API}/runs/get?run_id={run_id}")
    data = body["run"]["data"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"lr": "0.1", "bs": "32"}
    assert {t["key"]: t["value"] for t in data["tags"]}["stage"] == "a"
    assert server.json("POST", f"{API}/runs/delete", {"run_id": run_id})[0] == 200
    status, body = server.json("POST", f"{API}/runs/log-batch", batch)
    assert status == 400 and "deleted" in body["message"], body


def test_batches_from_concurrent_connections_read_back_whole_while_staged_and_merged(server):
    """A log-batch's points of many keys are staged as one row and merged into per-key chunks
    later (store/metric_staging.py): get-history, runs/get and search see every point either
    way, from requests committed together in one group."""
    run_ids = [_run(server) for _ in range(4)]
    batches = 40  # past the point where a run's staged rows are merged, and some left staged

    def send(run_id: str) -> None:
        for step in range(batches):
            metrics = [_point(f"m{k}", float(step * 100 + k), step, 1000 + step) for k in range(20)]
            status, body = server.json(
                "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": metrics}
            )
            assert status == 200, body

    threads = [threading.Thread(target=send, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for run_id in run_ids:
        for key in ("m0", "m13"):
            k = int(key[1:])
            expected = [(s, 1000 + s, float(s * 100 + k)) for s in range(batches)]
            assert _history(server, run_id, key) == expected
        assert _latest(server, run_id)["m13"] == float((batches - 1) * 100 + 13)
    status, body = server.json(
        "POST",
        f"{API}/runs/search",
        {"experiment_ids": ["0"], "filter": "metrics.m19 > 3900", "max_results": 1000},
    )
    assert status == 200, body
    assert set(run_ids) <= {r["info"]["run_id"] for r in body["runs"]}


def test_an_empty_metric_key_is_refused_and_the_largest_batch_is_stored_whole(server):
    run_id = _run(server)
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": [_point("", 1.0, 1)]}
    )
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
    largest = [_point(f"k{i}", float(i), 2) for i in range(1000)]
    status, body = server.json(
        "POST", f"{API}/runs/log-batch", {"run_id": run_id, "metrics": largest}
    )
    assert status == 200, body
    latest = _latest(server, run_id)
    assert len(latest) == 1000 and latest["k999"] == 999.0
    assert _history(server, run_id, "k500") == [(2, 1000, 500.0)]

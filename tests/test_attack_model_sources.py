"""An authenticated attacker against a real standalone server: model versions whose source lies
outside the server's artifact store are refused at registration, and never loaded when serving
is started through the server (a row written straight into the database included): the marker
file the malicious model's unpickling would create never appears, and a loopback listener
named as a source receives nothing. Serving can be turned off (403) or limited to registered
versions; a model logged through the server's own artifact proxy is served by that server,
with local and S3 destinations."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from standalone_server import running_server

import notebook_tracker.models as ntm

TOKEN = "attack-model-sources-token"
BODY = {"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}}

CLIENT = """
import sys
import tempfile
import notebook_tracker as nt
import notebook_tracker.models as ntm


class Times:
    def predict(self, frame):
        return frame["x"].to_numpy() * 5


run = nt.start_run()
info = ntm.log_model(Times(), name="model", registered_model_name=sys.argv[1])
nt.end_run()
print(run.info.run_id)
"""


class Evil:
    """Unpickling this creates the marker file: what attacker code would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def predict(self, frame):  # makes save_model pick the python_function flavor
        return frame

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


class Listener:
    """A TCP listener on loopback that records every connection it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(1)
            try:
                self.connections.append(conn.recv(4096))
            except OSError:
                self.connections.append(b"")
            conn.close()

    def close(self) -> None:
        self.sock.close()


class Attack:
    def __init__(self, tmp: Path, server, listener: Listener) -> None:
        self.tmp = tmp
        self.server = server
        self.listener = listener
        self.dest = tmp / "dest"
        self.db = tmp / "tracker.db"
        self.marker = tmp / "PWNED"
        self.evil = tmp / "evil_model"  # outside every artifact root
        if not self.evil.exists():
            ntm.save_model(Evil(self.marker), self.evil)
        assert (self.evil / "MLmodel").is_file() and not self.marker.exists()

    def api(self, method: str, endpoint: str, body=None) -> tuple[int, dict]:
        return self.server.json(method, f"/api/2.0/mlflow/{endpoint}", body)

    def register(self, name: str, source: str) -> tuple[int, dict]:
        self.api("POST", "registered-models/create", {"name": name})
        return self.api("POST", "model-versions/create", {"name": name, "source": source})

    def inside(self, name: str) -> Path:
        """A copy of the malicious model inside the artifacts destination."""
        path = self.dest / "models" / name
        ntm.save_model(Evil(self.marker), path)
        return path

    def serve(self, name: str, version: str = "1") -> list[tuple[int, dict]]:
        """Every way of making the server load the version: the start endpoint, invocations."""
        return [
            self.server.json("POST", f"/api/serving/{name}/start", {"version": version}),
            self.server.json("POST", f"/models/{name}/{version}/invocations", BODY),
            self.server.json("POST", f"/models/{name}/invocations", BODY),
        ]

    def assert_untouched(self) -> None:
        assert not self.marker.exists(), "the malicious model was loaded"
        assert self.listener.connections == [], "the server connected to a host a client chose"

    def sql(self, statement: str, *args: str) -> None:
        with sqlite3.connect(self.db) as conn:
            assert conn.execute(statement, args).rowcount == 1


@pytest.fixture(scope="module")
def listener():
    found = Listener()
    yield found
    found.close()


def _start(tmp: Path, extra: list[str] | None = None):
    return running_server(
        tmp, f"sqlite:///{tmp / 'tracker.db'}", str(tmp / "dest"), workers=1, token=TOKEN,
        extra_args=extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def attack(tmp_path_factory, listener):
    tmp = tmp_path_factory.mktemp("attack-models")
    with _start(tmp) as server:
        yield Attack(tmp, server, listener)


def _hostile_sources(a: Attack) -> list[str]:
    port = a.listener.port
    link = a.dest / "models" / "linked-out"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(a.evil, target_is_directory=True)
    return [
        str(a.evil),
        f"file://{a.evil}",
        f"file://localhost{a.evil}",
        f"file://127.0.0.1:{port}{a.evil}",
        f"http://127.0.0.1:{port}/model",
        f"https://127.0.0.1:{port}/model",
        f"ftp://127.0.0.1:{port}/model",
        f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/model",
        f"{a.dest}/../evil_model",
        f"file://{a.dest}/../evil_model",
        f"{a.dest}/%2e%2e/evil_model",
        f"{a.dest}/models/./../../evil_model",
        "mlflow-artifacts:/../evil_model",
        f"mlflow-artifacts://127.0.0.1:{port}/../evil_model",
        "mlflow-artifacts:/models%2f..%2f..%2fevil_model",
        str(link),
        f"file://{link}",
        f"{a.dest}?x=1",
        f"{a.dest}#fragment",
        "s3://some-bucket/evil_model",
        "evil_model",
        "~/evil_model",
        "runs:/0123456789abcdef0123456789abcdef/../../../../../evil_model",
        f"{a.evil}\x00",
    ]


def test_sources_outside_the_artifact_store_are_refused_at_registration(attack):
    for source in _hostile_sources(attack):
        status, body = attack.register("evil", source)
        assert status in (400, 404), (source, status, body)
        assert body["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
        if status == 400:  # refused by the source check, or earlier by the wire layer (NUL)
            assert "artifact store" in body["message"] or "'source'" in body["message"], body
    status, body = attack.api("GET", "model-versions/search?filter=name%3D%27evil%27")
    assert status == 200 and body.get("model_versions", []) == []
    assert attack.serve("evil")[0][0] in (400, 404)
    attack.assert_untouched()


def test_the_refusal_names_what_is_allowed(attack):
    status, body = attack.register("evil", str(attack.evil))
    assert status == 400
    message = body["message"]
    assert str(attack.dest) in message and "runs:/" in message and "mlflow-artifacts:" in message


@pytest.mark.parametrize("kind", ["path", "file-uri", "listener", "symlink-dir", "dotdot"])
def test_a_source_rewritten_in_the_database_is_not_loaded(attack, kind):
    name = f"rewritten-{kind}"
    status, body = attack.register(name, str(attack.dest / "models" / "benign"))
    assert status == 200, body
    link = attack.dest / "models" / "linked-out-2"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(attack.evil, target_is_directory=True)
    hostile = {
        "path": str(attack.evil),
        "file-uri": f"file://{attack.evil}",
        "listener": f"http://127.0.0.1:{attack.listener.port}/model",
        "symlink-dir": str(link),
        "dotdot": f"{attack.dest}/../evil_model",
    }[kind]
    attack.sql("UPDATE model_versions SET source = ? WHERE name = ?", hostile, name)
    for status, body in attack.serve(name):
        assert status == 400, (hostile, status, body)
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    attack.assert_untouched()


def test_a_run_whose_artifact_uri_was_rewritten_does_not_serve_its_model(attack):
    status, body = attack.api("POST", "runs/create", {"experiment_id": "0"})
    run_id = body["run"]["info"]["run_id"]
    status, body = attack.register("via-run", f"runs:/{run_id}/evil_model")
    assert status == 200, body
    attack.sql("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", str(attack.tmp), run_id)
    for status, body in attack.serve("via-run"):
        assert status == 400 and "outside every artifact root" in body["message"], body
    attack.assert_untouched()


def test_a_model_inside_the_store_with_a_file_linked_outside_is_not_loaded(attack):
    model = attack.dest / "models" / "linky"
    model.mkdir(parents=True)
    (model / "MLmodel").write_bytes((attack.evil / "MLmodel").read_bytes())
    (model / "python_model.pkl").symlink_to(attack.evil / "python_model.pkl")
    assert attack.register("linky", str(model))[0] == 200
    for status, body in attack.serve("linky"):
        assert status == 400 and "is a link to" in body["message"], body
    attack.assert_untouched()


def test_a_link_inside_the_store_leading_to_a_link_out_is_not_followed(attack):
    relay = attack.dest / "relay"  # inside the destination, but holding a link out
    relay.mkdir(parents=True)
    (relay / "python_model.pkl").symlink_to(attack.evil / "python_model.pkl")
    model = attack.dest / "models" / "nested"
    model.mkdir(parents=True)
    text = (attack.evil / "MLmodel").read_text()
    (model / "MLmodel").write_text(text.replace("python_model.pkl", "sub/python_model.pkl"))
    (model / "sub").symlink_to(relay, target_is_directory=True)
    assert attack.register("nested", str(model))[0] == 200
    for status, body in attack.serve("nested"):
        assert status == 400 and "outside this server's artifact roots" in body["message"], body
    attack.assert_untouched()


def test_a_model_directory_with_a_link_loop_is_a_400(attack):
    model = attack.dest / "models" / "loop"
    model.mkdir(parents=True)
    (model / "MLmodel").write_bytes((attack.evil / "MLmodel").read_bytes())
    (model / "again").symlink_to(model, target_is_directory=True)
    assert attack.register("loop", str(model))[0] == 200
    status, body = attack.serve("loop")[0]
    assert status == 400 and "Cannot load the model" in body["message"], body
    attack.assert_untouched()


def test_a_model_whose_mlmodel_names_a_file_outside_it_is_not_loaded(attack):
    model = attack.dest / "models" / "absolute"
    model.mkdir(parents=True)
    text = (attack.evil / "MLmodel").read_text()
    assert "python_model: python_model.pkl" in text
    pickle = attack.evil / "python_model.pkl"
    (model / "MLmodel").write_text(text.replace("python_model.pkl", str(pickle)))
    assert attack.register("absolute", str(model))[0] == 200
    for status, body in attack.serve("absolute"):
        assert status == 400 and "not a relative path inside" in body["message"], body
    attack.assert_untouched()


def test_serving_by_uri_goes_through_the_same_check(attack):
    for uri in (str(attack.evil), f"http://127.0.0.1:{attack.listener.port}/m", "runs:/nope/m"):
        status, body = attack.server.json("POST", "/api/serving/adhoc/start", {"model_uri": uri})
        assert status in (400, 404), (uri, body)
    attack.assert_untouched()


def _log_through_the_proxy(server, name: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, name],
        env={
            **os.environ,
            "NOTEBOOK_TRACKER_URI": server.url,
            "NOTEBOOK_TRACKER_TOKEN": TOKEN,
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _assert_serves_a_model_logged_through_its_proxy(server) -> None:
    run_id = _log_through_the_proxy(server, "good")
    status, version = server.json("GET", "/api/2.0/mlflow/model-versions/get?name=good&version=1")
    assert status == 200 and version["model_version"]["source"].startswith("mlflow-artifacts:")
    status, body = server.json("POST", "/models/good/1/invocations", BODY)
    assert (status, body) == (200, {"predictions": [5.0, 10.0]}), server.log()[-3000:]
    status, body = server.json(
        "POST", "/api/serving/adhoc/start", {"model_uri": f"runs:/{run_id}/model"}
    )
    assert status == 200 and body["served"]["state"] == "ready", body
    assert server.json("POST", "/models/adhoc/invocations", BODY) == (
        200,
        {"predictions": [5.0, 10.0]},
    )
    status, listing = server.json("GET", "/api/serving")
    assert sorted((s["name"], s["version"]) for s in listing["served"]) == [
        ("adhoc", None),
        ("good", 1),
    ]
    for name in ("adhoc", "good"):
        assert server.json("POST", f"/api/serving/{name}/stop", {})[0] == 200


def test_the_server_serves_a_model_logged_through_its_own_proxy(attack):
    _assert_serves_a_model_logged_through_its_proxy(attack.server)
    attack.assert_untouched()


def test_the_server_serves_a_model_logged_through_its_proxy_to_s3(tmp_path, s3_bucket):
    destination = f"s3://{s3_bucket}/artifacts"
    store = f"sqlite:///{tmp_path / 'tracker.db'}"
    with running_server(tmp_path, store, destination, workers=1, token=TOKEN) as server:
        _assert_serves_a_model_logged_through_its_proxy(server)


def test_with_serving_off_every_serving_request_is_a_json_403(tmp_path):
    with _start(tmp_path, ["--no-serving"]) as server:
        _log_through_the_proxy(server, "good")  # the registry still works
        for method, path, body in (
            ("POST", "/models/good/1/invocations", BODY),
            ("POST", "/models/good/invocations", BODY),
            ("POST", "/api/serving/good/start", {"version": "1"}),
            ("POST", "/api/serving/good/stop", {}),
        ):
            status, answer = server.json(method, path, body)
            assert status == 403, (path, answer)
            assert answer["error_code"] == "PERMISSION_DENIED"
            assert "--no-serving" in answer["message"]
        status, listing = server.json("GET", "/api/serving")
        assert status == 200 and listing == {
            "served": [],
            "serving": {"enabled": False, "registered_only": False},
        }
        assert "notebook_tracker.models.scoring" not in _children(server)


def test_registered_only_refuses_to_serve_a_run_uri(tmp_path):
    with _start(tmp_path, ["--serve-registered-only"]) as server:
        run_id = _log_through_the_proxy(server, "good")
        status, answer = server.json(
            "POST", "/api/serving/adhoc/start", {"model_uri": f"runs:/{run_id}/model"}
        )
        assert status == 403 and answer["error_code"] == "PERMISSION_DENIED", answer
        assert "registered model versions only" in answer["message"]
        assert server.json("POST", "/models/good/1/invocations", BODY) == (
            200,
            {"predictions": [5.0, 10.0]},
        )
        assert server.json("POST", "/api/serving/good/stop", {})[0] == 200


def _children(server) -> str:
    """Command lines of the server's processes' children (model workers would show here)."""
    out = []
    for pid in [server.proc.pid, *server.worker_pids()]:
        path = Path(f"/proc/{pid}/task/{pid}/children")
        for child in path.read_text().split() if path.exists() else []:
            try:
                out.append(Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                pass
    return json.dumps(out)


def test_a_jupyter_server_on_a_remote_store_loads_models_through_its_proxy_only(
    attack, tmp_path, monkeypatch
):
    from notebook_tracker.errors import InvalidParameter
    from notebook_tracker.models.registry import forget_registry_stores
    from notebook_tracker.models.sources import for_context
    from notebook_tracker.server.context import TrackerContext

    monkeypatch.setenv("NOTEBOOK_TRACKER_TOKEN", TOKEN)
    monkeypatch.setenv("NOTEBOOK_TRACKER_URI", attack.server.url)  # as the extension exports it
    forget_registry_stores()
    _log_through_the_proxy(attack.server, "remote")
    context = TrackerContext(attack.server.url, mode="jupyter")
    try:
        sources = for_context(context)
        model = sources.fetch("models:/remote/1", tmp_path / "copy")
        assert (model / "MLmodel").is_file() and (model / "python_model.pkl").is_file()
        for outside in (str(attack.evil), f"file://{attack.evil}", "s3://bucket/model"):
            with pytest.raises(InvalidParameter, match="artifact proxy"):
                sources.fetch(outside, tmp_path / "refused")
    finally:
        context.close()
        forget_registry_stores()
    attack.assert_untouched()


@pytest.mark.postgres
def test_on_postgresql_hostile_sources_are_refused_and_proxy_models_served(
    tmp_path, postgres_uri, listener
):
    import psycopg2

    store = running_server(
        tmp_path, postgres_uri, str(tmp_path / "dest"), workers=1, token=TOKEN
    )  # fmt: skip
    with store as server:
        attack = Attack(tmp_path, server, listener)
        for source in (str(attack.evil), f"http://127.0.0.1:{listener.port}/m", "file:///etc"):
            status, body = attack.register("evil", source)
            assert status == 400 and "artifact store" in body["message"], body
        assert attack.register("sneaky", str(attack.dest / "models" / "benign"))[0] == 200
        with psycopg2.connect(postgres_uri) as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE model_versions SET source = %s WHERE name = 'sneaky'", (str(attack.evil),)
            )
        for status, body in attack.serve("sneaky"):
            assert status == 400 and "outside every artifact root" in body["message"], body
        _assert_serves_a_model_logged_through_its_proxy(server)
        attack.assert_untouched()


MLFLOW_CLIENT = """
import sys
import tempfile
import mlflow


class Times(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * 3


with mlflow.start_run() as run:
    # pip_requirements: MLflow infers them in a child Python otherwise (seconds)
    info = mlflow.pyfunc.log_model(name="model", python_model=Times(), pip_requirements=["mlflow"])
print(mlflow.register_model(f"runs:/{run.info.run_id}/model", sys.argv[1]).source)
"""


def test_a_model_logged_and_registered_by_the_stock_mlflow_client_is_served(attack):
    pytest.importorskip("mlflow")
    result = subprocess.run(
        [sys.executable, "-c", MLFLOW_CLIENT, "stock"],
        env={
            # No MLFLOW_* of this process: an in-process mlflow.set_experiment exports
            # MLFLOW_EXPERIMENT_ID, an experiment this server does not have.
            **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
            "MLFLOW_TRACKING_URI": attack.server.url,
            "MLFLOW_TRACKING_TOKEN": TOKEN,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("models:/m-")  # a logged model
    status, body = attack.server.json("POST", "/models/stock/1/invocations", BODY)
    assert status == 200 and body == {"predictions": [{"x": 3.0}, {"x": 6.0}]}, body
    assert attack.server.json("POST", "/api/serving/stock/stop", {})[0] == 200


def test_a_served_name_cannot_name_a_directory_elsewhere(attack):
    run_id = _log_through_the_proxy(attack.server, "names")
    escape = Path(tempfile.gettempdir()) / f"nt-escape-{os.getpid()}@uri"
    for name in (f"..%2F{escape.name[:-4]}", "..%2F..%2Fetc%2Fx", "%2E%2E", ".."):
        status, body = attack.server.json(
            "POST", f"/api/serving/{name}/start", {"model_uri": f"runs:/{run_id}/model"}
        )
        assert status in (400, 404), (name, body)
    assert not escape.exists()
    assert attack.server.json("GET", "/api/serving")[1]["served"] == []


def test_model_copies_left_by_a_stopped_server_are_removed_by_the_next(tmp_path):
    with _start(tmp_path) as server:
        _log_through_the_proxy(server, "good")
        assert server.json("POST", "/models/good/1/invocations", BODY)[0] == 200
        pattern = f"nt-served-models-{server.proc.pid}-*"
        (copies,) = Path(tempfile.gettempdir()).glob(pattern)
        assert (copies / "good-v1" / "MLmodel").is_file()
    with _start(tmp_path) as server:
        assert server.json("POST", "/models/good/1/invocations", BODY)[0] == 200
        assert not copies.exists()


def test_a_proxy_source_naming_a_host_is_stored_without_it(attack):
    port = attack.listener.port
    status, body = attack.register("hosted", f"mlflow-artifacts://127.0.0.1:{port}/models/x")
    assert status == 200, body
    assert body["model_version"]["source"] == "mlflow-artifacts:/models/x"
    status, body = attack.register("hosted", f"file://{attack.dest}/models/y")
    assert status == 200 and body["model_version"]["source"] == f"{attack.dest}/models/y"
    attack.assert_untouched()

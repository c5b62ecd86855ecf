"""An attacker with a valid token tries to make the server reach outside its artifact roots.

Against a real `notebook-tracker server` process (SQLite, local artifacts destination, one
allowed extra root) and a real Jupyter server (pytest-jupyter): crafted `artifact_location`s
at experiment creation, hostile rows written straight into the database, and paths through
the artifact proxy. Outside the roots sit a canary directory (never read, listed or deleted)
and a loopback listener the server must never connect to (no SSRF, no token relayed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from attack_helpers import SECRET, Canary, SsrfListener
from standalone_server import ServerProcess, running_server

TOKEN = "attacker-holds-a-valid-token-" + uuid.uuid4().hex
MLFLOW = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass
class World:
    server: ServerProcess
    db: Path
    dest: Path
    allowed: Path
    outside: Path
    canary: Canary
    listener: SsrfListener

    def fill(self, template: str) -> str:
        return template.format(
            dest=self.dest, allowed=self.allowed, outside=self.outside, port=self.listener.port
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("attack")
    dest, allowed, outside = tmp / "dest", tmp / "allowed", tmp / "outside"
    dest.mkdir()
    allowed.mkdir()
    canary = Canary(outside)
    os.symlink(outside, dest / "evil")  # a link inside the root pointing out
    os.symlink(outside, allowed / "evil")
    listener = SsrfListener()
    db = tmp / "tracker.db"
    try:
        with running_server(
            tmp,
            f"sqlite:///{db}",
            str(dest),
            workers=1,
            token=TOKEN,
            extra_args=["--allowed-artifact-root", str(allowed)],
        ) as server:
            yield World(server, db, dest, allowed, outside, canary, listener)
    finally:
        listener.close()


@pytest.fixture(autouse=True)
def nothing_escapes(world: World) -> Iterator[None]:
    yield
    assert world.canary.intact(), "a file outside the artifact roots was changed or deleted"
    assert world.listener.received == [], "the server connected to a host a client chose"
    assert not (world.outside / "planted.txt").exists()


def _sql(world: World, statement: str, *args: object) -> None:
    with sqlite3.connect(world.db) as conn:
        conn.execute(statement, args)


def _create_experiment(world: World, location: object | None = None) -> tuple[int, dict]:
    body: dict[str, object] = {"name": "exp-" + uuid.uuid4().hex}
    if location is not None:
        body["artifact_location"] = location
    return world.server.json("POST", f"{MLFLOW}/experiments/create", body)


def _new_run(world: World, experiment_id: str) -> dict:
    status, body = world.server.json(
        "POST", f"{MLFLOW}/runs/create", {"experiment_id": experiment_id, "start_time": 1}
    )
    assert status == 200, body
    return body["run"]["info"]


def _assert_refused(status: int, headers: dict, raw: bytes, what: str) -> None:
    assert 400 <= status < 500, (what, status, raw[:300])
    assert headers.get("Content-Type", "").startswith("application/json"), (what, headers)
    assert SECRET.encode() not in raw, what
    assert b"Traceback" not in raw, what


# -- 1. locations at experiment creation --------------------------------------------------------
REFUSED_LOCATIONS = {
    "outside path": "{outside}",
    "outside path shaped like the root": "{dest}-sibling",
    "file uri outside": "file://{outside}",
    "file uri single slash": "file:{outside}",
    "file uri relative": "file:outside",
    "file uri localhost outside": "file://localhost{outside}",
    "file uri with a host": "file://127.0.0.1{dest}/x",
    "file uri with userinfo": "file://user@127.0.0.1{dest}/x",
    "http to a listener": "http://127.0.0.1:{port}/x",
    "http to a listener's proxy path": "http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/x",
    "https to a listener": "https://127.0.0.1:{port}/x",
    "ftp to a listener": "ftp://127.0.0.1:{port}/x",
    "gopher": "gopher://127.0.0.1:{port}/_x",
    "dict": "dict://127.0.0.1:{port}/x",
    "data": "data:text/plain,x",
    "javascript": "javascript:alert(1)",
    "unknown scheme": "hdfs://namenode/x",
    "proxy with dot-dot": "mlflow-artifacts:/..",
    "proxy with dot-dot deep": "mlflow-artifacts:/a/../../outside",
    "proxy host and dot-dot": "mlflow-artifacts://127.0.0.1:{port}/../x",
    "proxy with dot segment": "mlflow-artifacts:/./x",
    "proxy percent-encoded dot-dot": "mlflow-artifacts:/%2e%2e/outside",
    "proxy double-encoded dot-dot": "mlflow-artifacts:/%252e%252e/outside",
    "proxy encoded slash": "mlflow-artifacts:/..%2foutside",
    "proxy query": "mlflow-artifacts:/x?path=../../",
    "proxy fragment": "mlflow-artifacts:/x#y",
    "proxy backslash": "mlflow-artifacts:/x\\..\\..\\outside",
    "root dot-dot": "{dest}/../outside",
    "root dot segment": "{dest}/./x",
    "root percent-encoded dot-dot": "{dest}/%2e%2e/outside",
    "root double-encoded dot-dot": "{dest}/%252e%252e/outside",
    "root backslash": "{dest}\\..\\outside",
    "root NUL": "{dest}/x\x00/../../outside",
    "root newline": "{dest}/x\n",
    "root query": "{dest}/x?y=1",
    "root fragment": "{dest}/x#y",
    "symlink inside the root": "{dest}/evil",
    "below a symlink inside the root": "{dest}/evil/sub",
    "symlink inside the allowed root": "{allowed}/evil",
    "network-path reference": "//127.0.0.1:{port}/x",
    "relative path": "outside",
    "home-relative path": "~/x",
    "windows drive": "C:\\x",
    "s3 bucket not a root": "s3://someone-elses-bucket/x",
    "s3 with userinfo": "s3://user@bucket/x",
    "s3 with port": "s3://bucket:9000/x",
    "lone surrogate": "{dest}/\ud800",
}
# Refused by the wire format's text checks before the location is even parsed.
REFUSED_AS_TEXT = {"root NUL", "lone surrogate"}


@pytest.mark.parametrize("case", list(REFUSED_LOCATIONS))
def test_experiment_create_refuses_a_location_outside_the_roots(world, case):
    location = world.fill(REFUSED_LOCATIONS[case])
    status, headers, raw = world.server.request(
        "POST",
        f"{MLFLOW}/experiments/create",
        json.dumps({"name": "exp-" + uuid.uuid4().hex, "artifact_location": location}),
        headers={"Content-Type": "application/json"},
    )
    _assert_refused(status, headers, raw, case)
    error = json.loads(raw)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE", error
    if case in REFUSED_AS_TEXT:
        assert "'artifact_location'" in error["message"]
        return
    # The answer names the roots the server would accept.
    assert str(world.dest) in error["message"] and str(world.allowed) in error["message"]
    assert "--allowed-artifact-root" in error["message"]


@pytest.mark.parametrize("location", [7, True, ["/x"], {"path": "/x"}])
def test_experiment_create_refuses_a_location_that_is_not_a_string(world, location):
    status, headers, raw = world.server.request(
        "POST", f"{MLFLOW}/experiments/create", {"name": "e" + uuid.uuid4().hex,
                                                  "artifact_location": location}
    )  # fmt: skip
    _assert_refused(status, headers, raw, repr(location))


ACCEPTED_LOCATIONS = {
    "proxy path": ("mlflow-artifacts:/team/a", "mlflow-artifacts:/team/a"),
    "proxy with a host (never contacted, not stored)": (
        "mlflow-artifacts://127.0.0.1:{port}/team/b",
        "mlflow-artifacts:/team/b",
    ),
    "proxy upper-case scheme": ("MLFLOW-ARTIFACTS:/team/c", "mlflow-artifacts:/team/c"),
    "inside the destination": ("{dest}/direct", "{dest}/direct"),
    "inside the allowed root": ("{allowed}/team", "{allowed}/team"),
    "file uri inside the allowed root": ("file://{allowed}/f", "{allowed}/f"),
    "doubled slashes": ("{allowed}//g//h/", "{allowed}/g/h"),
}


@pytest.mark.parametrize("case", list(ACCEPTED_LOCATIONS))
def test_experiment_create_accepts_locations_inside_the_roots_stored_without_a_host(world, case):
    given, stored = (world.fill(t) for t in ACCEPTED_LOCATIONS[case])
    status, body = _create_experiment(world, given)
    assert status == 200, body
    status, got = world.server.json(
        "GET", f"{MLFLOW}/experiments/get?experiment_id={body['experiment_id']}"
    )
    assert got["experiment"]["artifact_location"] == stored


def test_a_run_in_an_experiment_named_with_a_foreign_proxy_host_uses_this_server(world):
    status, body = _create_experiment(world, world.fill("mlflow-artifacts://127.0.0.1:{port}/hx"))
    assert status == 200, body
    run = _new_run(world, body["experiment_id"])
    assert run["artifact_uri"] == f"mlflow-artifacts:/hx/{run['run_id']}/artifacts"
    put = f"{PROXY}/hx/{run['run_id']}/artifacts/a.txt"
    assert world.server.request("PUT", put, b"mine")[0] == 200
    status, listing = world.server.json("GET", f"{MLFLOW}/artifacts/list?run_id={run['run_id']}")
    assert status == 200 and [f["path"] for f in listing["files"]] == ["a.txt"]
    assert (world.dest / "hx" / run["run_id"] / "artifacts" / "a.txt").read_bytes() == b"mine"


# -- 2. hostile rows written straight into the database -------------------------------------------
HOSTILE_ROWS = {
    "outside path": "{outside}",
    "file uri outside": "file://{outside}",
    "file uri with a host": "file://127.0.0.1{outside}",
    "dot-dot out of the root": "{dest}/../outside",
    "percent-encoded dot-dot": "{dest}/%2e%2e/outside",
    "symlink inside the root": "{dest}/evil",
    "symlink inside the allowed root": "{allowed}/evil",
    "http to a listener": "http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/x",
    "https to a listener": "https://127.0.0.1:{port}/x",
    "proxy host with dot-dot": "mlflow-artifacts://127.0.0.1:{port}/../outside",
    "proxy percent-encoded": "mlflow-artifacts:/%2e%2e/outside",
    "s3 bucket not a root": "s3://someone-elses-bucket/x",
    "relative path": "outside",
    "NUL": "{dest}/x\x00{outside}",
}


def _reads_of_run(world: World, run_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"{MLFLOW}/artifacts/list?run_id={run_id}"),
        ("GET", f"{MLFLOW}/artifacts/list?run_id={run_id}&path=artifacts"),
        ("GET", f"/api/runs/{run_id}/artifacts"),
        ("GET", f"/api/runs/{run_id}/artifacts?path=artifacts"),
        ("GET", f"/api/runs/{run_id}/artifacts/raw/secret.txt"),
        ("GET", f"/api/runs/{run_id}/artifacts/raw/artifacts/secret.txt?download=1"),
    ]


@pytest.mark.parametrize("case", list(HOSTILE_ROWS))
def test_a_run_row_pointing_outside_the_roots_is_never_read_or_listed(world, case):
    status, body = _create_experiment(world)
    run = _new_run(world, body["experiment_id"])
    _sql(world, "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
         world.fill(HOSTILE_ROWS[case]), run["run_id"])  # fmt: skip
    for method, path in _reads_of_run(world, run["run_id"]):
        _assert_refused(*world.server.request(method, path), f"{case}: {path}")


@pytest.mark.parametrize("case", list(HOSTILE_ROWS))
def test_an_experiment_row_pointing_outside_leads_no_new_run_or_model_outside(world, case):
    status, body = _create_experiment(world)
    exp_id = body["experiment_id"]
    _sql(world, "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
         world.fill(HOSTILE_ROWS[case]), int(exp_id))  # fmt: skip
    status, created = world.server.json(
        "POST", f"{MLFLOW}/runs/create", {"experiment_id": exp_id, "start_time": 1}
    )
    if status == 200:
        for method, path in _reads_of_run(world, created["run"]["info"]["run_id"]):
            _assert_refused(*world.server.request(method, path), f"{case}: {path}")
    status, model = world.server.json(
        "POST", f"{MLFLOW}/logged-models", {"experiment_id": exp_id, "name": "m"}
    )
    if status == 200:
        model_id = model["model"]["info"]["model_id"]
        path = f"{MLFLOW}/logged-models/{model_id}/artifacts/directories"
        _assert_refused(*world.server.request("GET", path), f"{case}: {path}")


# -- 3. paths through the artifact proxy ----------------------------------------------------------
PROXY_PATHS = [
    "evil/secret.txt",
    "evil/artifacts/secret.txt",
    "evil",
    "../outside/secret.txt",
    "..%2foutside%2fsecret.txt",
    "%2e%2e/outside/secret.txt",
    "%252e%252e/outside/secret.txt",
    "x/..%5c..%5coutside%5csecret.txt",
    "x%00/../../outside/secret.txt",
]


@pytest.mark.parametrize("path", PROXY_PATHS)
def test_the_proxy_does_not_read_through_links_or_encodings(world, path):
    status, headers, raw = world.server.request("GET", f"{PROXY}/{path}")
    _assert_refused(status, headers, raw, path)


@pytest.mark.parametrize("listed", ["evil", "evil/artifacts", "..", "../outside", "/", "a\\.."])
def test_the_proxy_does_not_list_outside(world, listed):
    status, headers, raw = world.server.request("GET", f"{PROXY}?path={quote(listed)}")
    _assert_refused(status, headers, raw, listed)


def test_the_proxy_takes_an_encoded_dot_dot_as_a_plain_name(world):
    # `%2e%2e` in the query is decoded once, to the literal name "%2e%2e": nothing there.
    status, body = world.server.json("GET", f"{PROXY}?path={quote('%2e%2e/outside')}")
    assert (status, body) == (200, {})


@pytest.mark.parametrize("path", ["evil/planted.txt", "../outside/planted.txt", "%2e%2e/x"])
def test_the_proxy_does_not_write_outside(world, path):
    status, headers, raw = world.server.request("PUT", f"{PROXY}/{path}", b"planted")
    _assert_refused(status, headers, raw, path)


@pytest.mark.parametrize("path", ["evil/secret.txt", "evil/artifacts", "../outside"])
def test_the_proxy_does_not_delete_outside(world, path):
    status, headers, raw = world.server.request("DELETE", f"{PROXY}/{path}")
    _assert_refused(status, headers, raw, path)


# -- 4. the same attacks through the Jupyter server extension ------------------------------------
pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(tracking_uri: str, tmp_path: Path) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"notebook_tracker": True},
            "allow_unauthenticated_access": False,
        },
        "NotebookTracker": {"allowed_artifact_roots": [str(tmp_path / "allowed")]},
    }


@pytest.fixture
def jupyter_world(tracking_uri: str, tmp_path: Path) -> Iterator[World]:
    """The Jupyter store's root is `tmp_path/artifacts` (see the tracking_uri fixture)."""
    root, allowed, outside = tmp_path / "artifacts", tmp_path / "allowed", tmp_path / "outside"
    root.mkdir()
    allowed.mkdir()
    canary = Canary(outside)
    os.symlink(outside, root / "evil")
    os.symlink(outside, allowed / "evil")
    listener = SsrfListener()
    yield World(None, tmp_path / "tracker.db", root, allowed, outside, canary, listener)  # type: ignore[arg-type]
    listener.close()
    assert canary.intact()
    assert listener.received == []


async def _jp(jp_fetch, method: str, path: str, body: dict | None = None) -> tuple:
    from tornado.httpclient import HTTPClientError

    try:
        response = await jp_fetch(
            "notebook-tracker", *path.split("/"), method=method,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
    except HTTPClientError as err:
        response = err.response
        return err.code, dict(response.headers), response.body
    return response.code, dict(response.headers), response.body


JUPYTER_REFUSED = {
    k: REFUSED_LOCATIONS[k]
    for k in [
        "outside path", "file uri outside", "file uri with a host", "http to a listener",
        "http to a listener's proxy path", "ftp to a listener", "proxy host and dot-dot",
        "root dot-dot", "root percent-encoded dot-dot", "root backslash", "root query",
        "symlink inside the root", "symlink inside the allowed root", "s3 bucket not a root",
    ]
}  # fmt: skip


@pytest.mark.parametrize("case", list(JUPYTER_REFUSED))
async def test_jupyter_refuses_a_location_outside_its_roots(jp_fetch, jupyter_world, case):
    location = jupyter_world.fill(JUPYTER_REFUSED[case])
    body = {"name": "e" + uuid.uuid4().hex, "artifact_location": location}
    status, headers, raw = await _jp(jp_fetch, "POST", "api/2.0/mlflow/experiments/create", body)
    _assert_refused(status, headers, raw, case)
    message = json.loads(raw)["message"]
    assert str(jupyter_world.dest) in message and str(jupyter_world.allowed) in message
    assert "c.NotebookTracker.allowed_artifact_roots" in message


async def test_jupyter_accepts_its_store_root_and_allowed_roots(jp_fetch, jupyter_world):
    for location in (f"{jupyter_world.dest}/mine", f"{jupyter_world.allowed}/team"):
        body = {"name": "e" + uuid.uuid4().hex, "artifact_location": location}
        status, _, raw = await _jp(jp_fetch, "POST", "api/2.0/mlflow/experiments/create", body)
        assert status == 200, raw
    # A proxied location needs an artifacts destination, which a Jupyter server has not.
    body = {"name": "e" + uuid.uuid4().hex, "artifact_location": "mlflow-artifacts:/x"}
    status, headers, raw = await _jp(jp_fetch, "POST", "api/2.0/mlflow/experiments/create", body)
    _assert_refused(status, headers, raw, "proxy under Jupyter")


@pytest.mark.parametrize("case", list(HOSTILE_ROWS))
async def test_jupyter_never_reads_a_run_row_pointing_outside(
    jp_fetch, jupyter_world, tracking_uri, case
):
    from notebook_tracker.client import TrackingClient

    client = TrackingClient(tracking_uri)
    run_id = client.create_run(client.create_experiment("e" + uuid.uuid4().hex)).info.run_id
    _sql(jupyter_world, "UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?",
         jupyter_world.fill(HOSTILE_ROWS[case]), run_id)  # fmt: skip
    for _, path in _reads_of_run(jupyter_world, run_id):
        path, _, query = path.lstrip("/").partition("?")
        if query:
            continue  # the query forms are covered against the standalone server
        status, headers, raw = await _jp(jp_fetch, "GET", path)
        _assert_refused(status, headers, raw, f"{case}: {path}")


# -- 5. the client side: a location naming another host never receives the token -----------------
@pytest.mark.parametrize("same_host", [False, True])
def test_a_client_sends_its_token_only_to_its_tracking_server(monkeypatch, same_host):
    from notebook_tracker import env
    from notebook_tracker.artifacts import get_artifact_repository

    listener = SsrfListener()
    try:
        tracking_port = listener.port if same_host else 9
        monkeypatch.setenv(env.TRACKING_URI, f"http://127.0.0.1:{tracking_port}")
        monkeypatch.setenv(env.TRACKING_TOKEN, "the-client-token")
        repo = get_artifact_repository(f"mlflow-artifacts://127.0.0.1:{listener.port}/x")
        assert [f.path for f in repo.list_artifacts()] == [SECRET]
        sent = b"".join(listener.received)
    finally:
        listener.close()
    assert (b"the-client-token" in sent) is same_host


# -- 6. the operator's roots are checked at start -------------------------------------------------
@pytest.mark.parametrize("root", ["http://127.0.0.1:9/x", "mlflow-artifacts:/x", "s3://b:9/x"])
def test_the_server_refuses_to_start_with_a_root_it_cannot_serve(tmp_path, root):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", "server", "--port", "0",
         "--backend-store-uri", f"sqlite:///{tmp_path / 't.db'}", "--allowed-artifact-root", root],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: Invalid artifact root {root!r}")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1

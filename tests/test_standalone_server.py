"""`notebook-tracker server` as a real process: binding, workers, token, artifact proxy, limits."""

from __future__ import annotations

import json
import socket
import sys
import uuid
from pathlib import Path

import pytest
from standalone_server import running_server


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


def _non_loopback_address() -> str | None:
    """An address of this machine other than loopback (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("standalone")
    with running_server(tmp, _sqlite(tmp), str(tmp / "artifacts")) as srv:
        yield srv


def test_binds_loopback_only_by_default(server):
    assert f"listening on http://127.0.0.1:{server.port}" in server.log()
    other = _non_loopback_address()
    if other is not None:
        with pytest.raises(OSError):
            socket.create_connection((other, server.port), timeout=2).close()


def test_runs_the_requested_number_of_workers_on_one_port(server):
    assert len(server.worker_pids()) == 2
    for _ in range(20):  # each worker answers (connections are spread by the kernel)
        assert server.request("GET", "/health")[0] == 200


def _maps_uvloop(pid: int) -> bool:
    return "/uvloop/loop." in Path(f"/proc/{pid}/maps").read_text()  # its compiled module


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/maps")
def test_workers_run_on_uvloop_and_the_opt_out_keeps_asyncios_loop(tmp_path: Path):
    """uvloop is the workers' event loop (the server's ingest speed was measured on it);
    NOTEBOOK_TRACKER_SERVER_NO_UVLOOP=1 keeps asyncio's own, and both serve a log-batch."""
    for opt_out, expected in (({}, True), ({"NOTEBOOK_TRACKER_SERVER_NO_UVLOOP": "1"}, False)):
        tmp = tmp_path / str(expected)
        tmp.mkdir()
        with running_server(tmp, _sqlite(tmp), env=opt_out) as srv:
            assert [_maps_uvloop(pid) for pid in srv.worker_pids()] == [expected, expected]
            _, exp = srv.json("POST", "/api/2.0/mlflow/experiments/create", {"name": "loop"})
            _, run = srv.json(
                "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": exp["experiment_id"]}
            )
            run_id = run["run"]["info"]["run_id"]
            metrics = [
                {"key": f"m{k}", "value": k / 3, "timestamp": 1, "step": 0} for k in range(20)
            ]
            status, _ = srv.json(
                "POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics}
            )
            assert status == 200
            _, got = srv.json("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
            logged = {m["key"]: m["value"] for m in got["run"]["data"]["metrics"]}
            assert logged == {m["key"]: m["value"] for m in metrics}


def test_health_version_and_server_info_answer_the_client_probes(server):
    status, headers, body = server.request("GET", "/health")
    assert (status, body) == (200, b"OK")
    status, _, body = server.request("GET", "/version")
    assert status == 200 and body.decode()[0].isdigit()
    status, info = server.json("GET", "/api/3.0/mlflow/server-info")
    assert status == 200 and info["store_type"] == "SqlStore"


def test_a_fresh_store_gives_the_default_experiment_a_proxied_location(server):
    status, body = server.json("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0")
    assert status == 200
    assert body["experiment"]["artifact_location"] == "mlflow-artifacts:/0"


def test_artifact_proxy_put_get_list_delete(server):
    base = "/api/2.0/mlflow-artifacts/artifacts"
    assert server.request("PUT", f"{base}/7/run/artifacts/notes/a.txt", b"hello")[0] == 200
    assert server.request("PUT", f"{base}/7/run/artifacts/plot.png", b"\x89PNG")[0] == 200

    status, headers, body = server.request("GET", f"{base}/7/run/artifacts/notes/a.txt")
    assert (status, body) == (200, b"hello")
    assert headers["Content-Disposition"] == 'attachment; filename="a.txt"'
    assert headers["Content-Type"].startswith("text/plain")

    status, listing = server.json("GET", f"{base}?path=7/run/artifacts")
    assert listing == {
        "files": [
            {"path": "notes", "is_dir": True},
            {"path": "plot.png", "is_dir": False, "file_size": 4},
        ]
    }
    assert server.json("GET", f"{base}?path=7/run/artifacts/plot.png") == (200, {})
    assert server.json("GET", f"{base}?path=7/missing") == (200, {})

    assert server.request("DELETE", f"{base}/7/run/artifacts/notes")[0] == 200
    status, body = server.json("GET", f"{base}/7/run/artifacts/notes/a.txt")
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_files_with_non_ascii_or_quoted_names_download_under_their_name(server):
    from urllib.parse import quote

    name = 'résumé "v2" 𝛼.txt'
    url = "/api/2.0/mlflow-artifacts/artifacts/7/run/artifacts/" + quote(name)
    assert server.request("PUT", url, b"ok")[0] == 200
    status, headers, body = server.request("GET", url)
    assert (status, body) == (200, b"ok")
    disposition = headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="r')  # an ASCII fallback, no raw quote
    assert disposition.endswith("filename*=UTF-8''" + quote(name, safe=""))


@pytest.mark.parametrize(
    "path", ["../outside.txt", "a/../../outside.txt", "%2E%2E/outside.txt", "..%2Foutside.txt"]
)
def test_artifact_paths_cannot_leave_the_destination(server, path):
    status, body = server.json("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}", b"x")
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = server.json("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={path}")
    assert status == 400


def test_unknown_endpoint_is_a_json_404(server):
    status, body = server.json("GET", "/api/2.0/mlflow/no-such-thing")
    assert status == 404 and body["error_code"] == "ENDPOINT_NOT_FOUND"
    status, body = server.json("PUT", "/api/2.0/mlflow/runs/create", {})
    assert status == 404 and body["error_code"] == "ENDPOINT_NOT_FOUND"


def test_oversized_json_body_is_refused_with_413(tmp_path: Path):
    with running_server(
        tmp_path, _sqlite(tmp_path), str(tmp_path / "a"), workers=1,
        extra_args=["--max-body-size", "4096", "--max-artifact-size", "10000"],
    ) as srv:  # fmt: skip
        big = {"run_id": "x", "tags": [{"key": "k", "value": "v" * 5000}]}
        status, body = srv.json("POST", "/api/2.0/mlflow/runs/log-batch", big)
        assert status == 413 and body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        path = "/api/2.0/mlflow-artifacts/artifacts/1/big.bin"
        assert srv.request("PUT", path, b"x" * 9000)[0] == 200
        status, body = srv.json("PUT", path, b"x" * 10001)
        assert status == 413 and body["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_with_a_token_every_request_without_it_is_401(tmp_path: Path):
    token = uuid.uuid4().hex
    with running_server(tmp_path, _sqlite(tmp_path), str(tmp_path / "a"), token=token) as srv:
        for method, path in [
            ("GET", "/health"),
            ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0"),
            ("GET", "/api/2.0/mlflow-artifacts/artifacts?path=0"),
            ("GET", "/no/such/path"),
            ("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/x.txt"),
        ]:
            status, headers, body = srv.request(method, path, b"x" if method == "PUT" else None,
                                                token=None)  # fmt: skip
            assert status == 401, path
            assert json.loads(body)["error_code"] == "UNAUTHENTICATED"
        assert srv.request("GET", "/health", token="wrong-token")[0] == 401
        assert srv.request("GET", "/health")[0] == 200  # Bearer header
        assert srv.request("GET", f"/health?token={token}", token=None)[0] == 200
        # Nothing was written by the refused upload.
        assert not (tmp_path / "a" / "0" / "x.txt").exists()


def _mlflow_script(url: str, body: str) -> str:
    return (
        "import os, json\n"
        "os.environ['MLFLOW_DISABLE_TELEMETRY'] = 'true'\n"
        f"os.environ['MLFLOW_TRACKING_URI'] = {url!r}\n"
        "import mlflow\n" + body
    )


def test_stock_client_sends_the_token_from_mlflow_tracking_token(tmp_path: Path):
    import subprocess
    import sys

    pytest.importorskip("mlflow")
    token = uuid.uuid4().hex
    script = _mlflow_script(
        "{url}",
        "mlflow.set_experiment('with-token')\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_metric('m', 1.0)\n"
        "print(json.dumps(mlflow.get_run(run.info.run_id).data.metrics))\n",
    )
    with running_server(tmp_path, _sqlite(tmp_path), str(tmp_path / "a"), token=token) as srv:
        code = script.replace("{url}", srv.url)
        env = {"MLFLOW_TRACKING_TOKEN": token, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
        import os

        ok = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout.strip().splitlines()[-1]) == {"m": 1.0}

        env["MLFLOW_TRACKING_TOKEN"] = "wrong"
        refused = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
        assert refused.returncode != 0
        assert "401" in refused.stderr or "UNAUTHENTICATED" in refused.stderr

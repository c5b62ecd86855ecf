"""No request a client can send makes the MLflow-compatible API answer 5xx.

Every field of every endpoint is set, one at a time, to values of the wrong type, out of
range, too long or holding a NUL byte, on SQLite and on PostgreSQL (whose column types and
text rules are stricter). Each answer must be 2xx, or 4xx with a JSON error body.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from standalone_server import running_server

API = "/api/2.0/mlflow/"
ODD_VALUES = [
    None, 0, -1, 1.5, "x", "", [], {}, [1], [{}], [{"key": 1}], True, "NaN", 2**70, "0" * 300,
    "a\x00b", {"key": "k", "value": "v"}, [{"key": "k", "value": None}], [{"dataset": {}}],
    [{"model_id": "m-x"}], [{"key": "mlflow.runName", "value": "n" * 300}],
]  # fmt: skip
ENDPOINTS = [
    ("POST", "experiments/create", ["name", "artifact_location", "tags"]),
    ("GET", "experiments/get", ["experiment_id"]),
    ("GET", "experiments/get-by-name", ["experiment_name"]),
    ("POST", "experiments/search", ["max_results", "page_token", "filter", "order_by",
                                    "view_type"]),
    ("POST", "experiments/update", ["experiment_id", "new_name"]),
    ("POST", "experiments/set-experiment-tag", ["experiment_id", "key", "value"]),
    ("POST", "experiments/delete-experiment-tag", ["experiment_id", "key"]),
    ("POST", "runs/create", ["experiment_id", "user_id", "run_name", "start_time", "tags"]),
    ("GET", "runs/get", ["run_id"]),
    ("POST", "runs/update", ["run_id", "status", "end_time", "run_name"]),
    ("POST", "runs/log-metric", ["run_id", "key", "value", "timestamp", "step", "model_id"]),
    ("POST", "runs/log-parameter", ["run_id", "key", "value"]),
    ("POST", "runs/set-tag", ["run_id", "key", "value"]),
    ("POST", "runs/delete-tag", ["run_id", "key"]),
    ("POST", "runs/log-batch", ["run_id", "metrics", "params", "tags"]),
    ("POST", "runs/log-inputs", ["run_id", "datasets", "models"]),
    ("POST", "runs/outputs", ["run_id", "models"]),
    ("POST", "runs/log-model", ["run_id", "model_json"]),
    ("POST", "runs/search", ["experiment_ids", "filter", "run_view_type", "max_results",
                             "order_by", "page_token"]),
    ("GET", "metrics/get-history", ["run_id", "metric_key", "max_results", "page_token"]),
    ("GET", "metrics/get-history-bulk-interval", ["run_ids", "metric_key", "start_step",
                                                  "end_step", "max_results"]),
    ("GET", "artifacts/list", ["run_id", "path", "page_token"]),
    ("POST", "logged-models", ["experiment_id", "name", "model_type", "source_run_id",
                               "params", "tags"]),
    ("POST", "logged-models/search", ["experiment_ids", "filter", "datasets", "max_results",
                                      "order_by", "page_token"]),
    ("PATCH", "logged-models/MODEL", ["status"]),
    ("PATCH", "logged-models/MODEL/tags", ["tags"]),
    ("POST", "logged-models/MODEL/params", ["params"]),
    ("GET", "logged-models/MODEL/artifacts/directories", ["artifact_directory_path"]),
]  # fmt: skip


def _query(body: dict) -> str:
    pairs = []
    for key, value in body.items():
        items = value if isinstance(value, list) else [value]
        pairs += [(key, v if isinstance(v, str) else json.dumps(v)) for v in items]
    return urlencode(pairs)


def _check(status: int, raw: bytes, what: str) -> None:
    assert status < 500, f"{what} -> {status} {raw[:300]!r}"
    if status >= 400:
        body = json.loads(raw)
        assert body["error_code"] and body["message"], what


@pytest.mark.slow
def test_no_field_value_makes_an_endpoint_fail_with_5xx(store_uri: str, tmp_path: Path):
    with running_server(tmp_path, store_uri, str(tmp_path / "artifacts"), workers=1) as server:
        _, exp = server.json("POST", API + "experiments/create", {"name": "robust"})
        exp_id = exp["experiment_id"]
        _, run = server.json("POST", API + "runs/create", {"experiment_id": exp_id})
        run_id = run["run"]["info"]["run_id"]
        _, model = server.json("POST", API + "logged-models", {"experiment_id": exp_id})
        model_id = model["model"]["info"]["model_id"]
        good = {
            "run_id": run_id, "experiment_id": exp_id, "key": "k", "value": "1",
            "metric_key": "k", "experiment_ids": [exp_id], "run_ids": [run_id],
            "model_json": "{}", "name": "n", "timestamp": 1,
        }  # fmt: skip
        for method, path, fields in ENDPOINTS:
            path = path.replace("MODEL", model_id)
            for field in fields:
                for value in ODD_VALUES:
                    body = {f: good[f] for f in fields if f in good}
                    if value is None:
                        body.pop(field, None)
                    else:
                        body[field] = value
                    what = f"{method} {path} {field}={value!r:.40}"
                    if method == "GET":
                        status, _, raw = server.request(method, f"{API}{path}?{_query(body)}")
                    else:
                        status, _, raw = server.request(method, API + path, body)
                    _check(status, raw, what)


@pytest.fixture(scope="module")
def proxy_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("proxy")
    with running_server(tmp, f"sqlite:///{tmp / 't.db'}", str(tmp / "a"), workers=1) as server:
        server.root = tmp  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(
    "path",
    ["..", "a/../..", "%00", "a%00b", "/etc/passwd", "%2Fetc%2Fpasswd", "a\\..\\b", "C:x",
     "a//b", ".", "x" * 2000],
)  # fmt: skip
def test_odd_artifact_paths_are_refused_or_contained(proxy_server, path: str):
    base = "/api/2.0/mlflow-artifacts/artifacts"
    for method, url, body in [
        ("PUT", f"{base}/{quote(path, safe='/%')}", b"data"),
        ("GET", f"{base}/{quote(path, safe='/%')}", None),
        ("DELETE", f"{base}/{quote(path, safe='/%')}", None),
        ("GET", f"{base}?{urlencode({'path': path})}", None),
    ]:
        status, _, raw = proxy_server.request(method, url, body)
        _check(status, raw, f"{method} {url[:80]}")
    root = proxy_server.root
    written = [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == b"data"]
    assert all((root / "a") in p.parents for p in written), written

"""MLflow's wire habits, checked on raw HTTP against a running server.

Empty fields are left out, NaN and infinities travel as strings, int64 fields are accepted as
numbers or numeric strings, `run_uuid` stands in for `run_id`, errors carry MLflow's codes.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from standalone_server import running_server

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("wire")
    with running_server(tmp, f"sqlite:///{tmp / 'tracker.db'}", str(tmp / "artifacts")) as srv:
        yield srv


def _ok(server, method: str, path: str, body=None) -> dict:
    status, payload = server.json(method, API + path, body)
    assert status == 200, payload
    return payload


@pytest.fixture
def run_id(server) -> str:
    exp = _ok(server, "POST", "/experiments/create", {"name": f"wire-{uuid.uuid4().hex}"})
    run = _ok(server, "POST", "/runs/create", {"experiment_id": exp["experiment_id"]})
    return run["run"]["info"]["run_id"]


def test_a_new_run_omits_what_it_does_not_have(server, run_id):
    run = _ok(server, "GET", f"/runs/get?run_id={run_id}")["run"]
    assert "end_time" not in run["info"]
    assert "metrics" not in run["data"] and "params" not in run["data"]
    assert run["info"]["run_uuid"] == run["info"]["run_id"] == run_id
    assert run["info"]["status"] == "RUNNING"
    assert run["inputs"] == {} and run["outputs"] == {}


def test_an_empty_search_answers_an_empty_object(server):
    exp = _ok(server, "POST", "/experiments/create", {"name": "empty-search"})
    assert _ok(server, "POST", "/runs/search", {"experiment_ids": [exp["experiment_id"]]}) == {}


def test_nan_and_infinities_travel_as_strings_both_ways(server, run_id):
    metrics = [
        {"key": "nan", "value": "NaN", "timestamp": 1, "step": 0},
        {"key": "up", "value": "Infinity", "timestamp": 1, "step": 0},
        {"key": "down", "value": "-Infinity", "timestamp": 1, "step": 0},
    ]
    _ok(server, "POST", "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    status, headers, raw = server.request("GET", f"{API}/runs/get?run_id={run_id}")
    assert b"NaN" in raw and json.loads(raw)  # strict JSON: NaN only inside strings
    values = {m["key"]: m["value"] for m in json.loads(raw)["run"]["data"]["metrics"]}
    assert values == {"nan": "NaN", "up": "Infinity", "down": "-Infinity"}
    history = _ok(server, "GET", f"/metrics/get-history?run_id={run_id}&metric_key=nan")
    assert history["metrics"] == [{"key": "nan", "value": "NaN", "timestamp": 1, "step": 0}]


def test_int64_fields_accept_numeric_strings_and_run_uuid_alone(server, run_id):
    body = {
        "run_uuid": run_id,
        "key": "m",
        "value": "2.5",
        "timestamp": "1700000000000",
        "step": "7",
    }
    _ok(server, "POST", "/runs/log-metric", body)
    history = _ok(server, "GET", f"/metrics/get-history?run_uuid={run_id}&metric_key=m")
    assert history["metrics"] == [{"key": "m", "value": 2.5, "timestamp": 1700000000000, "step": 7}]


def test_metric_history_pages_with_max_results(server, run_id):
    metrics = [{"key": "s", "value": i, "timestamp": i, "step": i} for i in range(5)]
    _ok(server, "POST", "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    first = _ok(server, "GET", f"/metrics/get-history?run_id={run_id}&metric_key=s&max_results=3")
    assert [m["step"] for m in first["metrics"]] == [0, 1, 2]
    token = first["next_page_token"]
    rest = _ok(
        server,
        "GET",
        f"/metrics/get-history?run_id={run_id}&metric_key=s&max_results=3&page_token={token}",
    )
    assert [m["step"] for m in rest["metrics"]] == [3, 4] and "next_page_token" not in rest


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/runs/get?run_id=" + "0" * 32, None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("/experiments/get?experiment_id=424242", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("/experiments/get?experiment_id=abc", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("/experiments/get-by-name?experiment_name=nope", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("/runs/get", None, 400, "INVALID_PARAMETER_VALUE"),
        ("/runs/log-metric", {"run_id": "RUN", "key": "k", "value": "abc"}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/log-metric", {"run_id": "RUN", "key": "k", "value": 1, "step": 1.5}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/log-metric", {"run_id": "RUN", "key": "k", "value": True}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/log-metric", {"run_id": "RUN", "key": "a/../../b", "value": 1}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/log-parameter", {"run_id": "RUN", "key": "p"}, 400, "INVALID_PARAMETER_VALUE"),
        ("/runs/set-tag", {"run_id": "RUN", "key": "t", "value": ["x"]}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/update", {"run_id": "RUN", "status": "SLEEPING"}, 400, "INVALID_PARAMETER_VALUE"),
        ("/runs/search", {"experiment_ids": ["0"], "max_results": 0}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/search", {"experiment_ids": ["0"], "page_token": "garbage"}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/search", {"experiment_ids": "0", "filter": "x ="}, 400, "INVALID_PARAMETER_VALUE"),
        ("/experiments/create", {}, 400, "INVALID_PARAMETER_VALUE"),
        ("/experiments/create", {"name": {"a": 1}}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": 1}] * 1001}, 400,
         "INVALID_PARAMETER_VALUE"),
        ("/logged-models/m-missing", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("/logged-models", {"experiment_id": "999999"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ],
)  # fmt: skip
def test_bad_requests_get_mlflow_error_codes(server, run_id, path, body, status, code):
    method = "GET" if body is None else "POST"
    if isinstance(body, dict) and body.get("run_id") == "RUN":
        body = {**body, "run_id": run_id}
    got, payload = server.json(method, API + path, body)
    assert (got, payload["error_code"]) == (status, code), payload
    assert payload["message"]


def test_post_without_json_content_type_is_400(server):
    status, _, raw = server.request(
        "POST", f"{API}/experiments/create", b'{"name": "x"}', headers={"Content-Type": ""}
    )
    body = json.loads(raw)
    assert status == 400 and "Content-Type" in body["message"]


def test_malformed_json_is_400_not_500(server):
    for raw in (b"{", b"[1, 2]", b"\xff\xfe", b'"text"'):
        status, _, body = server.request(
            "POST", f"{API}/runs/search", raw, headers={"Content-Type": "application/json"}
        )
        assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_ui_prefix_ajax_api_reaches_the_same_endpoints(server):
    status, body = server.json("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0")
    assert status == 200 and body["experiment"]["name"] == "Default"


def test_log_model_2x_appends_to_the_history_tag(server, run_id):
    for flavor in ("python_function", "sklearn"):
        model = {"artifact_path": "model", "flavors": {flavor: {}}, "run_id": run_id}
        _ok(server, "POST", "/runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})
    tags = _ok(server, "GET", f"/runs/get?run_id={run_id}")["run"]["data"]["tags"]
    history = json.loads({t["key"]: t["value"] for t in tags}["mlflow.log-model.history"])
    assert [list(m["flavors"]) for m in history] == [["python_function"], ["sklearn"]]


def test_log_inputs_show_up_in_the_run(server, run_id):
    dataset = {
        "name": "iris",
        "digest": "abc123",
        "source_type": "local",
        "source": '{"uri": "/data/iris.csv"}',
    }
    tags = [{"key": "context", "value": "train"}]
    body = {"run_id": run_id, "datasets": [{"dataset": dataset, "tags": tags}]}
    _ok(server, "POST", "/runs/log-inputs", body)
    inputs = _ok(server, "GET", f"/runs/get?run_id={run_id}")["run"]["inputs"]
    assert inputs["dataset_inputs"] == [
        {"tags": [{"key": "context", "value": "train"}], "dataset": dataset}
    ]


def test_logged_model_lifecycle_tags_params_and_search(server, run_id):
    exp_id = _ok(server, "GET", f"/runs/get?run_id={run_id}")["run"]["info"]["experiment_id"]
    created = _ok(
        server,
        "POST",
        "/logged-models",
        {
            "experiment_id": exp_id,
            "name": "clf",
            "source_run_id": run_id,
            "params": [{"key": "depth", "value": "3"}],
            "tags": [{"key": "team", "value": "a"}],
        },
    )["model"]
    model_id = created["info"]["model_id"]
    assert model_id.startswith("m-") and created["info"]["status"] == "LOGGED_MODEL_PENDING"
    expected_uri = f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts"
    assert created["info"]["artifact_uri"] == expected_uri

    status, body = server.json("PATCH", f"{API}/logged-models/{model_id}", {"status": "BOGUS"})
    assert status == 400
    ready = _ok(server, "PATCH", f"/logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"})
    assert ready["model"]["info"]["status"] == "LOGGED_MODEL_READY"

    _ok(server, "PATCH", f"/logged-models/{model_id}/tags", {"tags": [{"key": "x", "value": "1"}]})
    _ok(server, "DELETE", f"/logged-models/{model_id}/tags/team")
    _ok(server, "POST", f"/logged-models/{model_id}/params",
        {"params": [{"key": "lr", "value": "0.1"}]})  # fmt: skip
    metric = {"run_id": run_id, "key": "acc", "value": 0.9, "timestamp": 5, "model_id": model_id}
    _ok(server, "POST", "/runs/log-metric", metric)
    _ok(server, "POST", "/runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id,
                                                                         "step": 2}]})  # fmt: skip

    info = _ok(server, "GET", f"/logged-models/{model_id}")["model"]
    assert info["info"]["tags"] == [{"key": "x", "value": "1"}]
    assert sorted(p["key"] for p in info["data"]["params"]) == ["depth", "lr"]
    assert info["data"]["metrics"][0]["value"] == 0.9
    outputs = _ok(server, "GET", f"/runs/get?run_id={run_id}")["run"]["outputs"]
    assert outputs == {"model_outputs": [{"model_id": model_id, "step": 2}]}

    other = _ok(server, "POST", "/logged-models", {"experiment_id": exp_id, "name": "reg"})
    search = {"experiment_ids": [exp_id], "filter": "metrics.acc > 0.5 AND status = 'READY'"}
    found = _ok(server, "POST", "/logged-models/search", search)
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    by_name = _ok(
        server,
        "POST",
        "/logged-models/search",
        {"experiment_ids": [exp_id], "order_by": [{"field_name": "name", "ascending": True}],
         "max_results": 1},
    )  # fmt: skip
    assert [m["info"]["name"] for m in by_name["models"]] == ["clf"]
    assert by_name["next_page_token"]

    _ok(server, "DELETE", f"/logged-models/{other['model']['info']['model_id']}")
    status, _ = server.json("GET", f"{API}/logged-models/{other['model']['info']['model_id']}")
    assert status == 404


def test_artifacts_list_of_a_run(server, run_id, tmp_path: Path):
    run = _ok(server, "GET", f"/runs/get?run_id={run_id}")["run"]["info"]
    rel = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    server.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{rel}/sub/f.txt", b"abc")
    listing = _ok(server, "GET", f"/artifacts/list?run_id={run_id}")
    assert listing == {"root_uri": run["artifact_uri"], "files": [{"path": "sub", "is_dir": True}]}
    listing = _ok(server, "GET", f"/artifacts/list?run_id={run_id}&path=sub")
    assert listing["files"] == [{"path": "sub/f.txt", "is_dir": False, "file_size": 3}]


def test_experiment_tags_set_and_delete(server):
    exp_id = _ok(server, "POST", "/experiments/create", {"name": f"tags-{uuid.uuid4().hex}"})[
        "experiment_id"
    ]
    body = {"experiment_id": exp_id, "key": "k", "value": "v"}
    _ok(server, "POST", "/experiments/set-experiment-tag", body)
    _ok(server, "POST", "/experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "k"})
    got = _ok(server, "GET", f"/experiments/get?experiment_id={exp_id}")["experiment"]
    assert "tags" not in got
    status, body = server.json(
        "POST", f"{API}/experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "k"}
    )
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_enums_by_name_or_protobuf_number():
    from notebook_tracker.server.mlflow_api.request import Params

    view = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
    assert Params({"v": "all"}).enum("v", view) == "ALL"
    assert Params({"v": 2}).enum("v", view) == "DELETED_ONLY"
    assert Params({"v": ["3"]}, from_query=True).enum("v", view) == "ALL"
    statuses = ("UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY")
    assert Params({"s": 2}).enum("s", statuses, first=0) == "LOGGED_MODEL_READY"
    with pytest.raises(Exception, match="use one of"):
        Params({"v": 4}).enum("v", view)


def test_doubles_and_int64_in_every_protobuf_spelling():
    import math

    from notebook_tracker.server.mlflow_api.request import Params
    from notebook_tracker.wire import double

    p = Params({"a": "NaN", "b": "-Infinity", "c": "1e3", "t": "12", "u": 12.0})
    assert math.isnan(p.double("a")) and p.double("b") == -math.inf and p.double("c") == 1000
    assert p.int64("t") == 12 and p.int64("u") == 12
    assert [double(x) for x in (math.nan, math.inf, -math.inf, 1.5)] == [
        "NaN", "Infinity", "-Infinity", 1.5
    ]  # fmt: skip
    with pytest.raises(Exception, match="64-bit integer"):
        Params({"t": 2**64}).int64("t")

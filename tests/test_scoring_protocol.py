"""The scoring server over HTTP: MLflow's protocol with every payload shape, CSV and params,
and clear JSON errors for bad requests. One `notebook-tracker models serve` process (two
workers, a 64 KiB body limit) serves the module's tests."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from helpers import free_port, wait_until

import notebook_tracker
import notebook_tracker.models as ntm

BODY_LIMIT = 64 * 1024


class Product(ntm.PythonModel):
    def predict(self, context, model_input, params=None):
        k = (params or {}).get("k", 1)
        if k < 0:
            raise ValueError("k must not be negative")
        return (model_input["x"] * model_input["n"] * k).to_numpy()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("scoring")
    # The server process cannot import this test module: store the model class by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    example = pd.DataFrame({"x": [1.5, 2.0], "n": [2, 3]})
    ntm.save_model(Product(), tmp / "model", input_example=(example, {"k": 1}))
    port = free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "notebook_tracker.cli",
            "models",
            "serve",
            "-m",
            str(tmp / "model"),
            "-p",
            str(port),
            "--workers",
            "2",
            "--max-body-mb",
            str(BODY_LIMIT / 1024 / 1024),
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or _status(url + "/ping") == 200, 120)
        assert proc.poll() is None, (tmp / "server.log").read_text()
        yield url, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def call(
    server, body: bytes | str | dict | list, content_type: str | None = "application/json",
    path: str = "/invocations", method: str = "POST",
) -> tuple[int, dict, str]:  # fmt: skip
    url, _ = server
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    data = data.encode() if isinstance(data, str) else data
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw.strip() else {}, resp.headers["Content-Type"]
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers["Content-Type"]


def predictions(server, body, content_type="application/json") -> list:
    status, answer, _ = call(server, body, content_type)
    assert status == 200, answer
    return answer["predictions"]


def test_ping_health_and_version(server):
    url, _ = server
    for path in ("/ping", "/health"):
        with urllib.request.urlopen(url + path) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    with urllib.request.urlopen(url + "/version") as resp:
        assert resp.read().decode() == notebook_tracker.__version__


def test_dataframe_split_with_and_without_index(server):
    split = {"columns": ["x", "n"], "data": [[1.5, 2], [2.0, 3]]}
    assert predictions(server, {"dataframe_split": split}) == [3.0, 6.0]
    assert predictions(server, {"dataframe_split": {**split, "index": [7, 8]}}) == [3.0, 6.0]


def test_dataframe_records_instances_and_inputs(server):
    records = [{"x": 1.5, "n": 2}, {"x": 2.0, "n": 3}]
    assert predictions(server, {"dataframe_records": records}) == [3.0, 6.0]
    assert predictions(server, {"instances": records}) == [3.0, 6.0]
    assert predictions(server, {"inputs": {"x": [1.5, 2.0], "n": [2, 3]}}) == [3.0, 6.0]
    assert predictions(server, {"inputs": [[1.5, 2], [2.0, 3]]}) == [3.0, 6.0]


def test_params_reach_the_model(server):
    body = {"dataframe_records": [{"x": 1.0, "n": 2}], "params": {"k": 10}}
    assert predictions(server, body) == [20.0]


def test_csv_with_a_header_row(server):
    assert predictions(server, "x,n\n1.5,2\n2.0,3\n", "text/csv") == [3.0, 6.0]
    assert predictions(server, "x,n\n1.5,2\n", "text/csv; charset=utf-8") == [3.0]


def test_a_thousand_rows_in_one_request(server):
    data = np.column_stack([np.arange(1000) / 10, np.arange(1000)]).tolist()
    rows = [[x, int(n)] for x, n in data]
    result = predictions(server, {"dataframe_split": {"columns": ["x", "n"], "data": rows}})
    assert len(result) == 1000 and result[10] == pytest.approx(10.0)


def test_malformed_json_is_a_400_bad_request(server):
    status, answer, content_type = call(server, '{"dataframe_split": ')
    assert status == 400 and content_type.startswith("application/json")
    assert answer["error_code"] == "BAD_REQUEST" and "valid JSON" in answer["message"]


@pytest.mark.parametrize(
    "body",
    [{"x": [1]}, {"dataframe_records": [], "inputs": []}, [{"x": 1.0, "n": 1}]],
    ids=["no-input-field", "two-input-fields", "top-level-list"],
)
def test_a_payload_without_exactly_one_input_field_is_refused(server, body):
    status, answer, _ = call(server, body)
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert "exactly one of the input fields" in answer["message"]


def test_a_missing_column_is_named(server):
    status, answer, _ = call(server, {"dataframe_records": [{"n": 1, "y": 2}]})
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "missing inputs ['x']" in answer["message"]
    assert answer["error_class"] == "SCHEMA_ENFORCEMENT_FAILED"


def test_a_wrong_type_names_the_column_and_the_expected_type(server):
    status, answer, _ = call(server, {"dataframe_records": [{"x": "abc", "n": 1}]})
    assert status == 400 and "'x' must be double" in answer["message"]
    status, answer, _ = call(server, {"dataframe_records": [{"x": 1.0, "n": 1.5}]})
    assert status == 400 and "'n' must be long" in answer["message"]
    status, answer, _ = call(
        server, {"dataframe_split": {"columns": ["x", "n"], "data": [[True, 1]]}}
    )
    assert status == 400 and "'x' must be double, got bool" in answer["message"]


def test_a_wrong_param_type_is_refused(server):
    body = {"dataframe_records": [{"x": 1.0, "n": 1}], "params": {"k": "ten"}}
    status, answer, _ = call(server, body)
    assert status == 400 and "Param 'k' must be long" in answer["message"]


def test_an_empty_body_is_a_400_that_shows_a_valid_one(server):
    status, answer, _ = call(server, b"")
    assert status == 400 and "empty" in answer["message"] and "dataframe_split" in answer["message"]


def test_an_oversized_body_is_a_413_with_json(server):
    rows = [[1.0, 1]] * 20000
    status, answer, _ = call(server, {"dataframe_split": {"columns": ["x", "n"], "data": rows}})
    assert status == 413 and answer["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert str(BODY_LIMIT) in answer["message"]
    assert predictions(server, {"dataframe_records": [{"x": 1.0, "n": 1}]}) == [1.0]


def test_other_content_types_and_charsets_are_415(server):
    status, answer, _ = call(server, "x", "text/plain")
    assert status == 415 and "text/csv" in answer["message"]
    status, _, _ = call(server, "{}", "application/json; charset=latin-1")
    assert status == 415
    status, _, _ = call(server, "{}", "application/json; format=pandas-split")
    assert status == 415


def test_a_model_error_is_a_400_with_the_models_message(server):
    body = {"dataframe_records": [{"x": 1.0, "n": 1}], "params": {"k": -1}}
    status, answer, _ = call(server, body)
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert "ValueError: k must not be negative" in answer["message"]


def test_wrong_verbs_and_paths_are_json_errors(server):
    status, answer, _ = call(server, None, None, method="GET")
    assert status == 405 and "error_code" in answer
    status, answer, _ = call(server, None, None, path="/nope", method="GET")
    assert status == 404 and answer["error_code"] == "ENDPOINT_NOT_FOUND"


def test_the_server_runs_the_requested_number_of_workers(server):
    _, proc = server
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert len(children) == 2

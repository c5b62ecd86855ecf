"""Bad input is never a 500: a token holder's hostile requests get a 4xx (or a 2xx) with JSON.

A real `notebook-tracker server` process on loopback is fuzzed with hypothesis over every
JSON endpoint (native API, MLflow-compatible API, model registry, model routes): each field an
endpoint reads, found in its source, is sent as valid or hostile values (text from every
Unicode category including lone surrogates, numbers past int64 and double, nested values);
whole bodies too (deep nesting, invalid UTF-8, non-objects). A real scoring server gets the
same treatment. Then the limits: oversize bodies, chunked or not, are JSON 413s; a 20 kB URL
is a JSON 414; page tokens only work with the search that made them.
"""

from __future__ import annotations

import base64
import http.client
import inspect
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest
from helpers import free_port, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standalone_server import ServerProcess, running_server

import notebook_tracker.models as ntm
from notebook_tracker.server import model_registry_api
from notebook_tracker.server.mlflow_api import experiments, history, logged_models, runs

BODY_LIMIT = 64 * 1024
EXAMPLES = 12
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure here reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- hostile values ----------------------------------------------------------------------------
ALL_CATEGORIES = (
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
    "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
)  # fmt: skip
any_text = st.text(st.characters(categories=ALL_CATEGORIES), max_size=40)
lone_surrogate = st.integers(0xD800, 0xDFFF).map(lambda c: f"x{chr(c)}y")
extreme_ints = (
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**40)])
    | st.integers()
)
extreme_floats = st.sampled_from([1e308, -1e308, 5e-324, 1e300, 0.5]) | st.floats(
    allow_nan=False, allow_infinity=False
)
scalars = (
    any_text
    | lone_surrogate
    | extreme_ints
    | extreme_floats
    | st.booleans()
    | st.none()
    | st.sampled_from(["NaN", "Infinity", "-Infinity", "", " ", "0", "-1", "1e999", "../.."])
)
nested = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
deep = st.integers(1, 3000).map(lambda n: json.loads("[" * min(n, 900) + "]" * min(n, 900)))
hostile = scalars | nested | deep
key_value_items = st.lists(
    st.fixed_dictionaries({}, optional={"key": hostile | st.just("k"), "value": hostile}),
    max_size=3,
)

# -- the endpoints and the fields they read ----------------------------------------------------
_FIELD_CALL = re.compile(
    r"\.(?:require|string|int64|double|boolean|enum|strings|messages|message|key_values)"
    r"\(\s*\"(\w+)\""
)
_HELPERS = {"run_id": ["run_id", "run_uuid"]}
_NESTED = {"metrics", "params", "tags", "datasets", "models", "order_by"}


def _fields(fn: Any) -> list[str]:
    """Field names an endpoint function reads (and those of the helpers it is known to use)."""
    source = inspect.getsource(fn)
    names = set(_FIELD_CALL.findall(source))
    if "req.run_id()" in source:
        names.update(_HELPERS["run_id"])
    if "_metric(" in source:
        names.update(["key", "value", "timestamp", "step"])
    if "_tags(req)" in source or "_pairs(req" in source:
        names.update(["tags", "params"])
    return sorted(names)


def _mlflow_endpoints() -> list[tuple[str, str, list[str]]]:
    found = []
    for method, path, fn in [
        *experiments.ROUTES,
        *runs.ROUTES,
        *history.ROUTES,
        *logged_models.ROUTES,
    ]:
        found.append((method, "/api/2.0/mlflow/" + path, _fields(fn)))
    for method, path, fn in model_registry_api.ROUTES:
        found.append((method, "/api/2.0/mlflow/" + path, _fields(fn)))
    return found


def _concrete(path: str, seeds: dict[str, str]) -> str:
    """A route pattern with its groups filled (`(?P<model_id>[^/]+)` -> a real model id)."""
    path = path.replace(r"\.", ".")
    path = re.sub(r"\(\?P<model_id>[^)]*\)", seeds["model_id"], path)
    return re.sub(r"\(\?P<tag_key>[^)]*\)", "k", path)


MLFLOW_ENDPOINTS = _mlflow_endpoints()
NATIVE_GETS = [
    ("/api/experiments", ["view", "max_results", "filter", "order_by", "page_token"]),
    ("/api/runs", ["experiment_ids", "filter", "order_by", "max_results", "page_token", "view"]),
    ("/api/runs/{run_id}", []),
    ("/api/runs/{run_id}/metrics", []),
    ("/api/runs/{run_id}/metrics/m/history", ["max_points", "x"]),
    ("/api/runs/{run_id}/artifacts", ["path"]),
    ("/api/models", ["filter", "max_results", "order_by", "page_token"]),
    ("/api/models/{model}", []),
    ("/api/models/{model}/versions", []),
    ("/api/serving", []),
]


# -- the server --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("attack")
    with running_server(
        tmp,
        f"sqlite:///{tmp / 'tracker.db'}",
        str(tmp / "artifacts"),
        workers=1,
        extra_args=["--max-body-size", str(BODY_LIMIT), "--max-artifact-size", str(BODY_LIMIT)],
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def seeds(server: ServerProcess) -> dict[str, str]:
    """Real ids, so that hostile fields reach code past 'not found'."""
    _, exp = server.json("POST", "/api/2.0/mlflow/experiments/create", {"name": "attack"})
    eid = exp["experiment_id"]
    _, run = server.json("POST", "/api/2.0/mlflow/runs/create", {"experiment_id": eid})
    run_id = run["run"]["info"]["run_id"]
    server.json(
        "POST",
        "/api/2.0/mlflow/runs/log-batch",
        {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}]},
    )
    server.json("POST", "/api/2.0/mlflow/registered-models/create", {"name": "attack-model"})
    _, model = server.json(
        "POST", "/api/2.0/mlflow/logged-models", {"experiment_id": eid, "name": "lm"}
    )
    return {
        "experiment_id": eid,
        "run_id": run_id,
        "model": "attack-model",
        "model_id": model["model"]["info"]["model_id"],
    }


def _valid(field: str, seeds: dict[str, str]) -> Any:
    known = {
        "experiment_id": seeds["experiment_id"],
        "experiment_ids": [seeds["experiment_id"]],
        "run_id": seeds["run_id"],
        "run_uuid": seeds["run_id"],
        "name": seeds["model"],
        "model_id": seeds["model_id"],
        "metric_key": "m",
        "key": "k",
        "value": "v",
        "version": "1",
    }
    return known.get(field, "x")


def _body_for(fields: list[str], seeds: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """Each field valid or hostile; key/value lists as lists of hostile items."""
    optional = {}
    for field in fields:
        choices = st.just(_valid(field, seeds)) | hostile
        if field in _NESTED:
            choices = choices | key_value_items
        optional[field] = choices
    return st.fixed_dictionaries({}, optional=optional)


def _query(fields: dict[str, Any]) -> str:
    pairs = []
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = item if isinstance(item, str) else json.dumps(item)
            # Lone surrogates become invalid UTF-8 bytes in the URL, as a hostile client sends.
            pairs.append(
                f"{urllib.parse.quote(name)}="
                f"{urllib.parse.quote(text.encode('utf-8', 'surrogatepass'), safe='')}"
            )
    return "&".join(pairs)


def _send(server: ServerProcess, method: str, path: str, body: bytes | None = None) -> Any:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return server.request(method, path, body, headers=headers)


def assert_json_answer(status: int, headers: dict[str, str], raw: bytes, what: str) -> Any:
    """A 2xx or 4xx, JSON, and for a 4xx an `{"error_code", "message"}` naming the problem."""
    assert status < 500, (what, status, raw[:300])
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert content_type.startswith("application/json"), (what, status, content_type, raw[:200])
    data = json.loads(raw)
    if status >= 400:
        assert data["error_code"] and data["message"], (what, data)
    return data


# -- the fuzzers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "fields"),
    MLFLOW_ENDPOINTS,
    ids=[f"{m} {p}" for m, p, _ in MLFLOW_ENDPOINTS],
)
def test_every_mlflow_and_registry_endpoint_answers_hostile_fields_with_json_and_no_5xx(
    server: ServerProcess, seeds: dict[str, str], method: str, path: str, fields: list[str]
):
    url = _concrete(path, seeds)

    @FUZZ
    @given(_body_for(fields, seeds))
    def attack(fields_sent: dict[str, Any]) -> None:
        if method == "GET":
            status, headers, raw = _send(server, "GET", f"{url}?{_query(fields_sent)}")
        else:
            body = json.dumps(fields_sent).encode()  # lone surrogates travel as \\udXXX
            status, headers, raw = _send(server, method, url, body)
        assert_json_answer(status, headers, raw, f"{method} {url} {fields_sent!r}"[:400])

    attack()


@pytest.mark.parametrize(("path", "params"), NATIVE_GETS, ids=[p for p, _ in NATIVE_GETS])
def test_every_native_endpoint_answers_hostile_query_parameters_with_json_and_no_5xx(
    server: ServerProcess, seeds: dict[str, str], path: str, params: list[str]
):
    @FUZZ
    @given(
        st.fixed_dictionaries({}, optional={p: hostile for p in params}),
        any_text | lone_surrogate | st.just(seeds["run_id"]),
    )
    def attack(fields_sent: dict[str, Any], segment: str) -> None:
        quoted = urllib.parse.quote(segment.encode("utf-8", "surrogatepass"), safe="")
        url = path.format(run_id=quoted or seeds["run_id"], model=quoted or seeds["model"])
        status, headers, raw = _send(server, "GET", f"{url}?{_query(fields_sent)}")
        assert_json_answer(status, headers, raw, f"GET {url} {fields_sent!r}"[:400])

    attack()


raw_bodies = st.one_of(
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.binary(max_size=64),
    st.sampled_from(
        [b"[]", b"1", b'"x"', b"null", b'{"name": NaN}', b'{"name": 1e999}', b"\xff\xfe{}",
         b'{"name": "\\ud800"}', b'{"\\udfff": 1}', b'{"name": "a\\u0000b"}', b"{" * 10]
    ),
)  # fmt: skip


def test_hostile_json_documents_are_json_400s_on_every_body_endpoint(
    server: ServerProcess, seeds: dict[str, str]
):
    posts = [(m, _concrete(p, seeds)) for m, p, _ in MLFLOW_ENDPOINTS if m != "GET"]
    posts.append(("POST", f"/api/serving/{seeds['model']}/stop"))

    @settings(FUZZ, max_examples=60)
    @given(st.sampled_from(posts), raw_bodies)
    def attack(endpoint: tuple[str, str], body: bytes) -> None:
        method, url = endpoint
        status, headers, raw = _send(server, method, url, body)
        assert_json_answer(status, headers, raw, f"{method} {url} {body[:80]!r}")

    attack()


# -- limits ------------------------------------------------------------------------------------
def _raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` on a raw socket, read the answer (what any client sees, chunked or not)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body was read: the answer is still there to read
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def _chunked(path: str, size: int, method: str = "POST") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"x" * 16384
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(size // len(chunk)))
    return head + body + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/2.0/mlflow/runs/log-batch"),
        ("POST", "/api/serving/attack-model/start"),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/big.bin"),
    ],
)
def test_an_oversize_chunked_body_is_a_json_413_everywhere(
    server: ServerProcess, method: str, path: str
):
    status, headers, raw = _raw_exchange(server.port, _chunked(path, 4 * BODY_LIMIT, method))
    data = assert_json_answer(status, headers, raw, path)
    assert status == 413 and data["error_code"] == "REQUEST_LIMIT_EXCEEDED", data
    assert str(BODY_LIMIT) in data["message"]
    # Drained, not dropped: the same server answers the next request normally.
    assert server.json("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0")[0] == 200


def test_an_oversize_declared_body_is_a_json_413_and_the_server_keeps_serving(
    server: ServerProcess,
):
    body = json.dumps({"run_id": "x", "tags": [{"key": "k", "value": "v" * 2 * BODY_LIMIT}]})
    status, headers, raw = server.request(
        "POST", "/api/2.0/mlflow/runs/log-batch", body, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and json.loads(raw)["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert server.json("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0")[0] == 200


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: abc",
        "Content-Length: -1",
        "Content-Length: 5, 6",
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
    ],
)
def test_malformed_body_framing_is_a_json_400(server: ServerProcess, framing: str):
    request = (
        "POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    )
    status, headers, raw = _raw_exchange(server.port, request.encode())
    data = assert_json_answer(status, headers, raw, framing)
    assert status == 400 and "Malformed HTTP request" in data["message"], data


@pytest.mark.parametrize(
    "path", ["/api/2.0/mlflow/experiments/search", "/api/experiments", "/api/models"]
)
def test_a_20kb_query_string_is_a_json_414(server: ServerProcess, path: str):
    status, headers, raw = _send(server, "GET", f"{path}?filter={'a' * 20_000}")
    data = assert_json_answer(status, headers, raw, path)
    assert status == 414 and "at most" in data["message"], data


def test_extremely_deep_artifact_paths_are_answered_with_json(
    server: ServerProcess, seeds: dict[str, str]
):
    run_id = seeds["run_id"]
    for depth in (200, 1000, 3000):
        deep_path = "/".join(["d"] * depth)
        for method, url, body in [
            ("GET", f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={deep_path}", None),
            ("GET", f"/api/runs/{run_id}/artifacts?path={deep_path}", None),
            ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={deep_path}", None),
            ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{deep_path}/f.txt", b"x"),
        ]:
            status, headers, raw = server.request(method, url, body)
            assert_json_answer(status, headers, raw, f"{method} depth {depth}")
            assert status in (200, 400, 404, 414), (method, depth, status, raw[:200])


# -- page tokens -------------------------------------------------------------------------------
def _token_with(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def test_a_page_token_used_with_another_filter_is_a_400_naming_the_problem(server: ServerProcess):
    for i in range(3):
        server.json("POST", "/api/2.0/mlflow/experiments/create", {"name": f"paged-{i}"})
    search = "/api/2.0/mlflow/experiments/search"
    status, first = server.json("POST", search, {"max_results": 1, "filter": "name LIKE 'paged-%'"})
    assert status == 200 and first["next_page_token"]
    token = first["next_page_token"]
    status, again = server.json(
        "POST", search, {"max_results": 1, "filter": "name LIKE 'paged-%'", "page_token": token}
    )
    assert status == 200 and again["experiments"][0]["name"] != first["experiments"][0]["name"]
    status, refused = server.json(
        "POST", search, {"max_results": 1, "filter": "name LIKE 'p%'", "page_token": token}
    )
    assert status == 400 and "different search" in refused["message"], refused
    status, refused = server.json(
        "POST",
        "/api/2.0/mlflow/runs/search",
        {"experiment_ids": ["0"], "page_token": token},
    )
    assert status == 400 and "different search" in refused["message"], refused


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/2.0/mlflow/experiments/search"),
        ("POST", "/api/2.0/mlflow/runs/search?experiment_ids=0"),
        ("GET", "/api/2.0/mlflow/registered-models/search"),
        ("GET", "/api/2.0/mlflow/model-versions/search"),
        ("GET", "/api/runs"),
    ],
)
def test_forged_page_tokens_with_huge_offsets_are_refused_cleanly(
    server: ServerProcess, method: str, path: str
):
    for forged in (_token_with(10**30), _token_with(2**63 - 1), _token_with(-5), "A" * 600):
        if method == "GET":
            sep = "&" if "?" in path else "?"
            status, headers, raw = _send(server, "GET", f"{path}{sep}page_token={forged}")
        else:
            url, _, query = path.partition("?")
            body: dict[str, Any] = {"page_token": forged}
            if query:
                body["experiment_ids"] = ["0"]
            status, headers, raw = _send(server, "POST", url, json.dumps(body).encode())
        data = assert_json_answer(status, headers, raw, f"{path} {forged[:20]}")
        assert status == 400 and "page_token" in data["message"], data


# -- the scoring server ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("scoring")
    # The server process cannot import this test module: store the model class by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ntm.save_model(_Echo(), tmp / "model")
    port = free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "notebook_tracker.models.scoring", "--model-dir",
         str(tmp / "model"), "--port", str(port), "--max-body-bytes", str(BODY_LIMIT)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: proc.poll() is not None or _pings(port), 120, what="scoring server")
        assert proc.poll() is None, (tmp / "server.log").read_text()
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _pings(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False


class _Echo(ntm.PythonModel):
    """A model that returns its input's length (defined here, pickled by value)."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return [len(model_input)]


def _scoring_request(address: str, method: str, path: str, body: bytes | None) -> Any:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(method, path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_the_scoring_server_answers_hostile_payloads_with_json_and_no_5xx(scoring: str):
    payloads = st.fixed_dictionaries(
        {},
        optional={
            "dataframe_split": hostile,
            "dataframe_records": hostile | st.lists(st.dictionaries(any_text, scalars)),
            "instances": hostile,
            "inputs": hostile,
            "params": hostile,
        },
    ).map(lambda d: json.dumps(d).encode())

    @settings(FUZZ, max_examples=40)
    @given(payloads | raw_bodies)
    def attack(body: bytes) -> None:
        status, headers, raw = _scoring_request(scoring, "POST", "/invocations", body)
        assert_json_answer(status, headers, raw, repr(body[:100]))

    attack()


def test_the_scoring_server_refuses_oversize_chunked_bodies_and_long_urls_with_json(scoring: str):
    port = int(scoring.split(":")[1])
    request = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n{}"
    status, headers, raw = _raw_exchange(port, request)
    assert status == 400 and "Malformed HTTP request" in json.loads(raw)["message"]
    status, headers, raw = _raw_exchange(port, _chunked("/invocations", 4 * BODY_LIMIT))
    data = assert_json_answer(status, headers, raw, "chunked")
    assert status == 413 and data["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    status, headers, raw = _scoring_request(scoring, "GET", f"/ping?x={'a' * 20_000}", None)
    assert status == 414 and json.loads(raw)["error_code"] == "REQUEST_LIMIT_EXCEEDED"


# -- under Jupyter -----------------------------------------------------------------------------
@pytest.fixture
def jp_server_config(tracking_uri: str) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"notebook_tracker": True}},
        "NotebookTracker": {"max_body_mb": 1},
    }


async def test_under_jupyter_an_oversize_chunked_body_is_a_json_413(jp_fetch: Any) -> None:
    from tornado.httpclient import HTTPClientError

    async def produce(write: Any) -> None:
        for _ in range(40):  # 2.5 MiB in chunks, no Content-Length: chunked
            await write(b"x" * 65536)

    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "notebook-tracker", "api", "2.0", "mlflow", "runs", "log-batch",
            method="POST", body_producer=produce,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
    response = refused.value.response
    assert response is not None and response.code == 413
    assert json.loads(response.body)["error_code"] == "REQUEST_LIMIT_EXCEEDED"

"""Every endpoint of the tracking server is behind authentication, under Jupyter and standalone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import tornado.web
from helpers import free_port
from jupyter_server.auth import Authorizer
from jupyter_server.serverapp import ServerWebApplication
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from notebook_tracker.server.base import TrackerHandler
from notebook_tracker.server.context import TrackerContext
from notebook_tracker.server.routes import build_handlers

pytest_plugins = ("pytest_jupyter.jupyter_server",)

BODY_METHODS = {"POST", "PUT", "PATCH"}


class DenyWrites(Authorizer):
    """An operator's authorizer that allows reading the tracker but not changing it."""

    def is_authorized(self, handler, user, action, resource):  # type: ignore[no-untyped-def]
        return not (resource.startswith("notebook_tracker") and action == "write")


@pytest.fixture
def jp_server_config(tracking_uri: str, request: pytest.FixtureRequest) -> dict:
    server = {
        "jpserver_extensions": {"notebook_tracker": True},
        "allow_unauthenticated_access": False,
    }
    if request.node.get_closest_marker("deny_writes"):
        server["authorizer_class"] = DenyWrites
    return {"ServerApp": server}


def implemented_methods(handler: type) -> list[str]:
    """Verbs the handler answers, except those Jupyter marks public (its CORS preflight)."""
    methods = []
    for name in handler.SUPPORTED_METHODS:
        method = getattr(handler, name.lower())
        if method is tornado.web.RequestHandler._unimplemented_method:
            continue
        if hasattr(method, "__allow_unauthenticated"):
            continue
        methods.append(name)
    return methods


def _filler(group: str) -> str:
    inner = re.sub(r"^\((\?:|\?P<\w+>)?|\)$", "", group)
    for candidate in ("x1", "1", ".", "x1/x2", *inner.split("|")):
        if re.fullmatch(group, candidate):
            return candidate
    raise AssertionError(f"no sample value for route group {group!r}")


def concrete_path(pattern: str) -> str:
    """A request path matching a route pattern: groups get sample values, optional parts vanish."""
    out: list[str] = []
    depth, i, group_start = 0, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        optional = pattern[i + 1 : i + 2] in ("?", "*")
        if ch == "\\":
            skip = pattern[i + 2 : i + 3] in ("?", "*")
            if depth == 0 and not skip:
                out.append(pattern[i + 1])
            i += 3 if skip else 2
            continue
        if ch == "(":
            depth += 1
            if depth == 1:
                group_start = i
        elif ch == ")":
            depth -= 1
            if depth == 0:
                if optional:
                    i += 1
                else:
                    out.append(_filler(pattern[group_start : i + 1]))
        elif depth == 0 and ch not in "^$":
            if ch == "." and pattern[i + 1 : i + 2] in ("*", "+"):
                out.append("x1")
                i += 1
            elif optional:
                i += 1
            else:
                out.append(ch)
        i += 1
    path = "".join(out)
    assert re.fullmatch(pattern, path), (pattern, path)
    return path


def routes(context: TrackerContext, prefix: str) -> Iterator[tuple[str, type, str]]:
    for rule in build_handlers(prefix, context):
        pattern, handler = rule[0], rule[1]
        for method in implemented_methods(handler):
            yield pattern, handler, method


async def call(jp_fetch, path: str, method: str, headers: dict) -> HTTPResponse:
    body = "{}" if method in BODY_METHODS else None
    return await jp_fetch(
        path,
        method=method,
        headers=headers,
        body=body,
        raise_error=False,
        allow_nonstandard_methods=True,
    )


def test_every_handler_method_is_decorated_as_authenticated(tmp_path):
    context = TrackerContext(f"sqlite:///{tmp_path / 't.db'}", mode="jupyter")
    missing = []
    for rule in build_handlers("/base/notebook-tracker/", context):
        missing += ServerWebApplication._check_handler_auth(None, rule[0], rule[1])
    assert missing == []


async def test_every_route_refuses_a_request_without_the_jupyter_token(
    jp_fetch, jp_web_app, jp_base_url
):
    context = jp_web_app.settings["notebook_tracker"]
    checked = 0
    for pattern, _handler, method in routes(context, jp_base_url + "notebook-tracker/"):
        path = concrete_path(pattern)[len(jp_base_url) :]
        refused = await call(jp_fetch, path, method, {"Authorization": ""})
        assert refused.code == 401, (method, pattern, refused.code)
        if method != "HEAD":
            refusal = json.loads(refused.body)
            assert refusal["error_code"] == "UNAUTHENTICATED"
            assert "Authorization: token <jupyter token>" in refusal["message"]
        allowed = await call(jp_fetch, path, method, {})
        assert allowed.code not in (401, 403), (method, pattern, allowed.code, allowed.body)
        checked += 1
    assert checked >= 9


@pytest.mark.deny_writes
async def test_the_jupyter_authorizer_decides_reads_and_writes(jp_fetch, tracking_uri):
    from notebook_tracker.client import TrackingClient

    run_id = TrackingClient(tracking_uri).create_run("0").info.run_id
    read = await jp_fetch("notebook-tracker", "api", "runs", run_id)
    assert read.code == 200
    denied = await jp_fetch(
        "notebook-tracker", "api", "runs", run_id, method="DELETE", raise_error=False
    )
    assert denied.code == 403
    assert json.loads(denied.body)["error_code"] == "PERMISSION_DENIED"


# -- standalone --------------------------------------------------------------------------------


class EchoHandler(TrackerHandler):
    @tornado.web.authenticated
    def post(self) -> None:
        self.write_json({"got": self.json_body()})


def serve(jp_asyncio_loop, app: tornado.web.Application) -> tuple[object, str]:
    """Listen on a free loopback port inside the test's event loop; (server, base URL)."""
    port = free_port()

    async def start():
        return app.listen(port, address="127.0.0.1")

    return jp_asyncio_loop.run_until_complete(start()), f"http://127.0.0.1:{port}"


@pytest.fixture
def standalone(tmp_path, jp_asyncio_loop):
    """A standalone app from the shared route table, token 's3cret', on a free port."""
    context = TrackerContext(
        f"sqlite:///{tmp_path / 't.db'}",
        str(tmp_path / "artifacts"),
        mode="standalone",
        auth_token="s3cret",
        max_body_bytes=1000,
    )
    rules = [("/test/echo", context.bind(EchoHandler), {"context": context})]
    server, base = serve(
        jp_asyncio_loop, tornado.web.Application(rules + build_handlers("/", context))
    )
    yield context, base
    server.stop()
    context.close()


async def fetch(url: str, method: str = "GET", headers: dict | None = None, body=None):
    if body is None and method in BODY_METHODS:
        body = "{}"
    return await AsyncHTTPClient().fetch(
        url,
        method=method,
        headers=headers or {},
        body=body,
        raise_error=False,
        allow_nonstandard_methods=True,
    )


async def test_standalone_answers_401_on_every_route_without_the_token(standalone):
    context, base = standalone
    checked = 0
    for pattern, _handler, method in routes(context, "/"):
        url = base + concrete_path(pattern)
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await fetch(url, method, headers)
            assert response.code == 401, (method, pattern, headers)
            if method != "HEAD":
                assert json.loads(response.body)["error_code"] == "UNAUTHENTICATED"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 9


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer s3cret"},
        {"Authorization": "token s3cret"},
        {"Authorization": "Basic dXNlcjpzM2NyZXQ="},  # user:s3cret, as MLflow clients send
    ],
)
async def test_standalone_accepts_the_token_in_each_client_style(standalone, headers):
    _, base = standalone
    response = await fetch(base + "/api/experiments", headers=headers)
    assert response.code == 200
    assert [e["name"] for e in json.loads(response.body)["experiments"]] == ["Default"]


async def test_standalone_without_a_token_is_open(tmp_path):
    context = TrackerContext(f"sqlite:///{tmp_path / 't.db'}", mode="standalone")
    port = free_port()
    server = tornado.web.Application(build_handlers("/", context)).listen(port, "127.0.0.1")
    try:
        response = await fetch(f"http://127.0.0.1:{port}/api/experiments")
        assert response.code == 200
    finally:
        server.stop()
        context.close()


async def test_malformed_and_oversized_json_bodies_are_4xx_with_a_json_error(standalone):
    _, base = standalone
    auth = {"Authorization": "Bearer s3cret"}
    ok = await fetch(base + "/test/echo", "POST", auth, body='{"a": 1}')
    assert ok.code == 200 and json.loads(ok.body) == {"got": {"a": 1}}
    for body, code in (("{not json", 400), ("[1, 2]", 400), (json.dumps({"x": "y" * 2000}), 413)):
        response = await fetch(base + "/test/echo", "POST", auth, body=body)
        assert response.code == code, body
        error = json.loads(response.body)
        assert set(error) == {"error_code", "message"} and error["message"]

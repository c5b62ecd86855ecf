"""MLflow's hot single calls answered below tornado's RequestHandler (the standalone server).

A synchronous `log_metric`, `log_param` or `set_tag` through the server costs a client the
server's whole request cycle. Tornado's `RequestHandler` cycle alone (routing through every
rule's regex, a handler object, header reset, the prepare/auth chain, output transforms) cost
about as much as the call's own work, so this delegate sits between tornado's HTTP connection
and the Application and answers POST `runs/log-metric`, `runs/log-parameter`, `runs/set-tag`
and `runs/log-batch` itself, with the same endpoint functions the route table maps them to.

Only a plain request takes the fast way: HTTP/1.1, one Content-Length within the server's body
limit, no Transfer-Encoding, no `Expect`, `Content-Type: application/json`, no query string,
and, when the server has a token, a matching token in the Authorization header. Anything else
(a wrong or missing token included) goes to the Application's own delegate unchanged, so it
gets exactly the answer it always got.

A fast call that fails (malformed JSON, a wrong type, an unknown or deleted run, a storage
error) is replayed through the Application's delegate, so its error is the regular handler's
own, word for word, and logged as before. Replaying is safe: every hot endpoint writes in one
transaction, and a failure leaves nothing written; the reply still follows the commit.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import tornado
from tornado import httputil
from tornado.http1connection import HTTP1Connection

from notebook_tracker import wire
from notebook_tracker.server import call_channel
from notebook_tracker.server.access_log import log_line
from notebook_tracker.server.base import JSON_TYPE
from notebook_tracker.server.context import TrackerContext
from notebook_tracker.server.hand_driven import go_on
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.sync_calls import InFlight, request_from
from notebook_tracker.server.standalone_auth import any_token_matches, header_tokens
from notebook_tracker.validation import parse_json
from notebook_tracker.wire import call_frames

HOT_ENDPOINTS = ("runs/log-metric", "runs/log-parameter", "runs/set-tag", "runs/log-batch")
SERVER_HEADER = f"TornadoServer/{tornado.version}"
Endpoint = Callable[[Any, Params], Any]
# (endpoint function, its MlflowApi, whether it is a coroutine), as the route table has them
Target = tuple[Endpoint, Any, bool]


class FastCalls(httputil.HTTPServerConnectionDelegate):
    """An HTTPServer's request callback: the hot calls here, everything else to `app`."""

    def __init__(self, app: Any, context: TrackerContext, prefix: str = "/") -> None:
        self.app = app
        self.context = context
        self.prefix = prefix
        self.table = hot_table(list(app.wildcard_router.rules), prefix)
        self.channel_path = f"{prefix}{call_frames.UPGRADE_PATH}"
        self._tasks: set[asyncio.Task[None]] = set()
        self._date = (0, "")
        self.answered = 0  # calls answered here, and those replayed (for tests)
        self.replayed = 0
        self.upgraded = 0  # connections made call channels
        self.tracks_connections = True  # every request of the worker comes through here

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        request_from(server_conn)  # a lone client's writes may stay on the loop (sync_calls)
        return _Call(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)

    def target(
        self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders
    ) -> Target | None:
        """The endpoint of a plain hot call; None sends the request the regular way."""
        if start_line.method != "POST" or start_line.version != "HTTP/1.1":
            return None
        target = self.table.get(start_line.path)  # a query string never matches
        if target is None:
            return None
        length = headers.get("Content-Length")
        if (
            length is None
            or not (length.isascii() and length.isdigit())  # '²' is a digit to str
            or len(length) > 18  # int() of thousands of digits is slow, or refused
            or int(length) > self.context.max_body_bytes
            or "Transfer-Encoding" in headers
            or "Expect" in headers
        ):
            return None
        content_type = headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return None
        if not self.authorized(headers):
            return None
        return target

    def authorized(self, headers: httputil.HTTPHeaders) -> bool:
        """Whether the Authorization header carries the server's token (if it has one)."""
        expected = self.context.auth_token
        return not expected or any_token_matches(
            expected, header_tokens(headers.get("Authorization", ""))
        )

    def upgrades(
        self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders
    ) -> bool:
        """Whether this request asks, plainly and with the token, for the call channel (a
        request that asks but is not plain or authorized gets the Application's answer: 401,
        or the catch-all's 404)."""
        return (
            start_line.method == "GET"
            and start_line.path == self.channel_path
            and call_channel.asks_for_channel(start_line.version, headers)
            and "Content-Length" not in headers
            and "Transfer-Encoding" not in headers
            and self.authorized(headers)
        )

    def date(self) -> str:
        """The Date header, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, httputil.format_timestamp(now))
        return self._date[1]

    def spawn(self, work: Awaitable[None]) -> None:
        spawn(self._tasks, work)

    def framed(self) -> None:
        """A call channel's frame (call_channel.Host): nothing to note here."""


def spawn(tasks: set[asyncio.Task[None]], work: Awaitable[None]) -> None:
    """`work` as a task, kept in `tasks` until it ends: a task nothing refers to may be
    collected before it ends."""
    task = asyncio.ensure_future(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


class _Call(httputil.HTTPMessageDelegate):
    """One request on a connection: answered here, or handed to the Application."""

    def __init__(
        self, calls: FastCalls, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> None:
        self.calls = calls
        self.server_conn = server_conn
        self.conn = request_conn
        self.regular: httputil.HTTPMessageDelegate | None = None
        self.chunks: list[bytes] = []
        self.closed = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        self.started = time.time()
        self.start_line, self.headers = start_line, headers
        if start_line.path == self.calls.channel_path and self.calls.upgrades(start_line, headers):
            context = getattr(self.conn, "context", None)
            remote_ip = getattr(context, "remote_ip", "")
            assert isinstance(self.conn, HTTP1Connection)
            self.calls.upgraded += 1
            stream = self.conn.detach()
            self.calls.spawn(call_channel.upgrade(self.calls, stream, remote_ip, self.server_conn))
            return None
        target = self.calls.target(start_line, headers)
        if target is None:
            self.regular = self.calls.app.start_request(self.server_conn, self.conn)
            return self.regular.headers_received(start_line, headers)
        self.fn, self.api, self.is_coroutine = target
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.regular is not None:
            return self.regular.data_received(chunk)
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        if self.regular is not None:
            self.regular.finish()
            return
        # Run the answer at once rather than as a task: a lone SQLite call never waits, so
        # it is answered before tornado's connection looks, saving a trip round the loop.
        answer = self._answer()
        try:
            waiting = answer.send(None)
        except StopIteration:
            return
        self.calls.spawn(go_on(answer, waiting))

    def on_connection_close(self) -> None:
        if self.regular is not None:
            self.regular.on_connection_close()
        self.closed = True

    async def _answer(self) -> None:
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        try:
            data = parse_json(body) if body.strip() else {}
            if type(data) is not dict:
                raise TypeError("not a JSON object")
            req = Params(data)
            with InFlight():  # a lone request may write on the loop (sync_calls.py)
                if self.is_coroutine:
                    result = await self.fn(self.api, req)
                else:
                    result = await self.calls.context.run(self.fn, self.api, req)
            reply = wire.dumps(result)
        except Exception:
            self.calls.replayed += 1
            if not self.closed:
                await self._replay(body)
            return
        self.calls.answered += 1
        self._reply(reply)

    def _reply(self, body: bytes) -> None:
        headers = httputil.HTTPHeaders(
            {
                "Server": SERVER_HEADER,
                "Content-Type": JSON_TYPE,
                "Date": self.calls.date(),
                "Content-Length": str(len(body)),
                "Vary": "Accept-Encoding",  # as tornado's gzip transform says on the slow path
            }
        )
        self.conn.write_headers(httputil.ResponseStartLine("HTTP/1.1", 200, "OK"), headers, body)
        self.conn.finish()
        context = getattr(self.conn, "context", None)
        remote_ip = getattr(context, "remote_ip", "")
        log_line(200, "POST", self.start_line.path, remote_ip, time.time() - self.started)

    async def _replay(self, body: bytes) -> None:
        """The request again, through the Application: the regular handler's error answer."""
        regular = self.calls.app.start_request(self.server_conn, self.conn)
        self.regular = regular
        pending = regular.headers_received(self.start_line, self.headers)
        if pending is not None:
            await pending
        if body:
            pending = regular.data_received(body)
            if pending is not None:
                await pending
        regular.finish()


def hot_table(rules: list[Any], prefix: str = "/") -> dict[str, Target]:
    """Request path -> (endpoint function, api) for the hot calls, read from the route rules
    that serve them (tornado `Rule`s, in order): a path the rules send elsewhere is not taken
    here."""
    table: dict[str, Target] = {}
    for name in HOT_ENDPOINTS:
        for api_path in ("api", "ajax-api"):
            for slash in ("", "/"):
                path = f"{prefix}{api_path}/2.0/mlflow/{name}{slash}"
                target = _route(rules, path)
                if target is not None:
                    table[path] = target
    return table


def _route(rules: list[Any], path: str) -> Target | None:
    for rule in rules:
        regex = getattr(rule.matcher, "regex", None)
        if regex is None or not regex.match(path):
            continue
        endpoints = (rule.target_kwargs or {}).get("endpoints")
        api = (rule.target_kwargs or {}).get("api")
        fn = endpoints.get("POST") if isinstance(endpoints, dict) else None
        if fn is None or api is None:
            return None
        return fn, api, inspect.iscoroutinefunction(fn)
    return None

"""A tornado app served from a background thread, for tests whose client code blocks; raw
requests for the call channel's upgrade and its answer frames."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tornado.httpserver
import tornado.ioloop
import tornado.web

from notebook_tracker.errors import TrackerError


class ThreadServer:
    """`app` served on a port of its own; or the HTTP server `make()` returns (one with a
    delegate of its own in front of the app, e.g. the standalone server's fast calls)."""

    def __init__(
        self,
        app: tornado.web.Application | None = None,
        make: Callable[[], tornado.httpserver.HTTPServer] | None = None,
    ) -> None:
        self._make = make or (lambda: tornado.httpserver.HTTPServer(app))
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "server thread did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self.server = self._make()
        sock = socket.create_server(("127.0.0.1", 0))  # bound here: no free-port race
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server.add_sockets([sock])
        self.loop = tornado.ioloop.IOLoop.current()
        self._ready.set()
        self.loop.start()

    def stop(self) -> None:
        def shutdown() -> None:
            self.server.stop()
            self.loop.stop()

        self.loop.add_callback(shutdown)
        self._thread.join(10)


@contextlib.contextmanager
def fast_and_plain(
    store_uri: str, token: str, limit: int
) -> Iterator[tuple[ThreadServer, Any, ThreadServer]]:
    """(the standalone worker's server, its fast-calls delegate, the same app without it) on
    one store, both with `token` and a body limit of `limit` bytes."""
    from notebook_tracker.server.fast_calls import FastCalls
    from notebook_tracker.server.standalone import make_app, make_context, make_http_server

    fast_context = make_context(store_uri, None, auth_token=token, max_body_bytes=limit)
    plain_context = make_context(store_uri, None, auth_token=token, max_body_bytes=limit)
    fast = ThreadServer(make=lambda: make_http_server(fast_context))
    calls = fast.server.request_callback
    assert isinstance(calls, FastCalls)
    plain = ThreadServer(
        make=lambda: tornado.httpserver.HTTPServer(
            make_app(plain_context), max_body_size=limit + 1024 * 1024
        )
    )
    try:
        yield fast, calls, plain
    finally:
        fast.stop()
        plain.stop()
        fast_context.close()
        plain_context.close()


def ask_upgrade(port: int, path: str, headers: str) -> tuple[socket.socket, int, bytes]:
    """(the socket, the answer's status, its body) of `GET path` with `headers` (each line
    ending in CRLF): the call channel's upgrade request, or one that should be refused."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)  # byte by byte: nothing past the head is read here
        assert chunk, "connection closed before an answer"
        head += chunk
    status = int(head.split(b" ")[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return sock, status, body


def read_answer_frame(sock: socket.socket) -> tuple[int, bytes]:
    """(status, body) of the next call channel answer frame on `sock`."""
    from notebook_tracker.wire.call_frames import ANSWER_HEAD

    data = b""
    while len(data) < ANSWER_HEAD.size:
        chunk = sock.recv(ANSWER_HEAD.size - len(data))
        assert chunk, "connection closed before an answer"
        data += chunk
    length, status = ANSWER_HEAD.unpack(data)
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return status, body


def batch_errors(stores: Any, run_id: str, fields: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(error type, error code, message) of the same refused `log_batch` through each store
    (the call channel's and HTTP's answers are compared in the channel tests)."""
    errors = []
    for store in stores:
        with pytest.raises(TrackerError) as info:
            store.log_batch(run_id, **fields)
        errors.append((type(info.value), info.value.error_code, str(info.value)))
    return errors

"""The call channel, server side: frames of MLflow's hot calls on an upgraded connection.

`FastCalls` (fast_calls.py) upgrades a plain, authenticated `GET {prefix}UPGRADE_PATH` with
`Upgrade: PROTOCOL` by taking the connection's stream from tornado (`detach`, the way tornado's
own websockets do) and handing it to `upgrade`. That answers 101 and moves the connection from
tornado's stream to an asyncio protocol of its own (a duplicate of the socket, so tornado can
close its handle as usual): tornado's stream costs about as much per frame as the rest of a
frame's handling. The protocol reads one call frame at a time, runs it with the endpoint
function the route table maps its path to, and writes its answer frame after the commit
(wire/call_frames.py has the framing). A param, tag or lone point written on this thread is
answered from inside the store, the moment its COMMIT returns (store/commit_notice.py says
why): the rest of the write's code runs while the answer is on its way. The token was checked
at the upgrade; every frame on the connection is that client's, and the client sends nothing
before the 101. Inside a Jupyter server the upgrade is a handler of its own, behind Jupyter's
auth (jupyter_channel.py); either server is the channel's `Host`.

After answering a frame, when nothing else is waiting on this worker (no other request in
flight, no bytes buffered or unsent, and, in a server that sees all its connections, no
request from another connection for QUIET_S), the channel polls its socket for the client's
next frame for up to 0.3 ms before going back to the loop, which would sleep in `epoll_wait`
(socket_wait.py says what that saves and how it is bounded: a client that pauses between
calls turns it off).

Errors are the HTTP API's: the same status and `{"error_code", "message"}` a handler answers,
from the same `error_payload`, logged the same way (one line for the client's mistakes, a
traceback for a bug). A frame over the body limit is answered 413 and the connection closed (its
body is not read); so is one naming no endpoint. Each frame gets an access-log line as a fast
call does. Frames are answered in order, one at a time; while one is being answered, or while
the client does not read its answers, reading pauses once a frame's worth is buffered.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, cast

from tornado import httputil
from tornado.iostream import IOStream, StreamClosedError

from notebook_tracker import wire
from notebook_tracker.errors import EndpointNotFound, InvalidParameter, PayloadTooLarge
from notebook_tracker.server.access_log import log_line
from notebook_tracker.server.base import json_object, log
from notebook_tracker.server.errors import error_payload, is_expected
from notebook_tracker.server.hand_driven import go_on
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.sync_calls import (
    InFlight,
    in_flight,
    lone_client,
    request_from,
)
from notebook_tracker.socket_wait import NEXT_FRAME_US, SocketWait, spin_budget_s
from notebook_tracker.store.commit_notice import Notice
from notebook_tracker.wire.call_frames import ENDPOINTS, PROTOCOL, REQUEST_HEAD, answer_frame

if TYPE_CHECKING:
    from notebook_tracker.server.context import TrackerContext
    from notebook_tracker.server.fast_calls import Target


class Host(Protocol):
    """What a channel needs of the server it runs in: the standalone server's `FastCalls`, or
    a Jupyter server's `JupyterCalls` (jupyter_channel.py)."""

    prefix: str
    table: dict[str, Target]  # request path -> endpoint, as fast_calls.hot_table reads them
    context: TrackerContext
    # Whether this server sees every request its worker reads (the standalone server): then a
    # channel's client may be taken as the worker's lone client (sync_calls.request_from).
    tracks_connections: bool

    def spawn(self, work: Awaitable[None]) -> None: ...

    def framed(self) -> None:
        """A frame was read: the server's own bookkeeping of activity, if it keeps one."""


SWITCHING = (
    f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {PROTOCOL}\r\nConnection: Upgrade\r\n\r\n"
).encode("ascii")
_EMPTY = b"{}"  # the answer of a write (`{}`), as wire.dumps writes it
_OK = answer_frame(200, _EMPTY)
# A standalone worker polls for a channel's next frame only after this long with requests from
# that one connection: a client's own HTTP calls (creating its run) come on another connection.
QUIET_S = 0.05
# As tornado's HTTP server closes a kept-alive connection idle this long (its default).
IDLE_S = 3600.0
_IDLE_CHECK_S = 60.0


def asks_for_channel(version: str, headers: httputil.HTTPHeaders) -> bool:
    """Whether a request asks, over HTTP/1.1, to become a call channel (either server checks
    this, then its own rules: the token, a body, Jupyter's auth)."""
    return (
        version == "HTTP/1.1"
        and headers.get("Upgrade") == PROTOCOL
        and "upgrade" in headers.get("Connection", "").lower()
    )


async def upgrade(calls: Host, stream: IOStream, remote_ip: str, connection: object) -> None:
    """Answer 101 on `stream` and serve the call channel on its connection. `connection`:
    tornado's object for the connection before the upgrade, which stands for it in the
    lone-client rule (sync_calls.request_from) as it did for its HTTP requests."""
    try:
        await stream.write(SWITCHING)
        sock = stream.socket.dup()
    except (StreamClosedError, OSError):
        stream.close()
        return
    stream.close()  # tornado's handle only: the duplicate keeps the connection open
    loop = asyncio.get_running_loop()
    try:
        await loop.connect_accepted_socket(lambda: Channel(calls, remote_ip, connection), sock=sock)
    except OSError:
        sock.close()


class Channel(asyncio.Protocol):
    """One upgraded connection: frames in, answers out, in order."""

    def __init__(self, calls: Host, remote_ip: str, connection: object) -> None:
        self.calls = calls
        self.remote_ip = remote_ip
        self.connection = connection
        prefix = calls.prefix
        self.paths = [f"{prefix}api/2.0/mlflow/{name}" for name in ENDPOINTS]
        self.targets = [calls.table.get(path) for path in self.paths]
        self.limit = calls.context.max_body_bytes
        self.buf = bytearray()
        self.busy = False  # a frame is being answered
        self.pumping = False
        self.writable = True
        self.reading = True
        self.closed = False
        self.last = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self.idle: asyncio.TimerHandle | None = None
        self.next_frame: SocketWait | None = None  # how an answered client's next frame is awaited
        self.answered_at = 0.0  # when the wait for the next frame began (0: none pending)
        self.answered_early = False  # the frame being answered was, at its commit

    # -- asyncio's side ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have asyncio.Transport's methods without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.idle = asyncio.get_running_loop().call_later(_IDLE_CHECK_S, self._check_idle)
        budget = _next_frame_s()
        sock = transport.get_extra_info("socket")
        if budget > 0 and sock is not None:
            self.next_frame = SocketWait(sock.fileno(), budget)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.last = time.monotonic()
        if self.answered_at:
            assert self.next_frame is not None
            self.next_frame.arrived(self.answered_at)
            self.answered_at = 0.0
        self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.idle is not None:
            self.idle.cancel()

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._pump()

    # -- frames -----------------------------------------------------------------------------
    def _pump(self) -> None:
        """Answer the buffered frames in order, until one has to wait or none is whole."""
        if self.pumping:
            return  # a frame answered inside this loop: the loop goes on by itself
        self.pumping = True
        try:
            while not self.busy and self.writable and not self.closed:
                frame = self._take()
                if frame is None:
                    break
                self.busy = True
                answer = self._answer(*frame)
                try:
                    waiting = answer.send(None)
                except StopIteration:
                    continue  # answered without waiting (a lone SQLite write): the next
                self.calls.spawn(go_on(answer, waiting))
        finally:
            self.pumping = False
        self._flow()

    def _take(self) -> tuple[int, bytes] | None:
        """The next whole frame (endpoint code, body), or None; refuses one that cannot be
        answered (too big, no endpoint) and closes."""
        head = REQUEST_HEAD.size
        if len(self.buf) < head:
            return None
        length, code = REQUEST_HEAD.unpack_from(self.buf)
        target = self.targets[code] if code < len(self.targets) else None
        if target is None or length == 0 or length - 1 > self.limit:
            self._refuse(code, length, target)
            return None
        if len(self.buf) < head + length - 1:
            return None
        body = bytes(self.buf[head : head + length - 1])
        del self.buf[: head + length - 1]
        return code, body

    def _refuse(self, code: int, length: int, target: Target | None) -> None:
        started = time.time()
        path = self.paths[code] if code < len(self.paths) else f"{self.calls.prefix}{code}"
        problem: Exception = (
            PayloadTooLarge(
                f"Request body of {length - 1} bytes exceeds the limit of {self.limit} bytes: "
                "send smaller batches."
            )
            if target is not None and length
            else EndpointNotFound(f"No call channel endpoint {code}.")
        )
        status, body = _error(path, problem)
        log_line(status, "POST", path, self.remote_ip, time.time() - started)
        assert self.transport is not None
        self.transport.write(answer_frame(status, body))
        self.transport.close()  # the body is left unread: nothing after it can be framed
        self.closed = True
        self.buf.clear()

    async def _answer(self, code: int, body: bytes) -> None:
        started = time.time()
        target = self.targets[code]
        assert target is not None
        self.calls.framed()
        if self.calls.tracks_connections:
            request_from(self.connection)  # a lone client's writes may stay on the loop
        self.answered_early = False
        status, answer = await _call(self.calls, target, self.paths[code], body, self._at_commit)
        log_line(status, "POST", self.paths[code], self.remote_ip, time.time() - started)
        if self.answered_early and status != 200:  # a bug after the commit: the client has 200
            log.error("POST %s answered 200 at its commit, then: %s", self.paths[code], answer)
        if not self.closed and self.transport is not None:
            if not self.answered_early:
                self.transport.write(answer_frame(status, answer))
            if self._alone():
                assert self.next_frame is not None
                self.answered_at = self.next_frame.until_readable()
        self.busy = False
        self._pump()

    def _at_commit(self) -> None:
        """The frame being answered (one at a time) committed its write: nothing after it
        changes the answer (store/commit_notice.py)."""
        if not self.closed and self.transport is not None:
            self.transport.write(_OK)
            self.answered_early = True

    def _alone(self) -> bool:
        """Whether this channel may wait for its client's next frame before the loop goes on:
        nothing else of this worker's could want the loop meanwhile."""
        return (
            self.next_frame is not None
            and not self.buf
            and in_flight() == 0
            and self.transport is not None
            and self.transport.get_write_buffer_size() == 0
            and (not self.calls.tracks_connections or lone_client(seconds=QUIET_S))
        )

    def _flow(self) -> None:
        """Stop reading while a whole frame's worth waits unanswered; read again after."""
        if self.transport is None or self.closed:
            return
        full = len(self.buf) > self.limit + REQUEST_HEAD.size
        if self.reading and full:
            self.transport.pause_reading()
            self.reading = False
        elif not self.reading and not full:
            self.transport.resume_reading()
            self.reading = True

    def _check_idle(self) -> None:
        if self.closed or self.transport is None:
            return
        if time.monotonic() - self.last > IDLE_S:
            self.transport.close()
            return
        self.idle = asyncio.get_running_loop().call_later(_IDLE_CHECK_S, self._check_idle)


@functools.cache
def _next_frame_s() -> float:
    """The budget for polling for a next frame (socket_wait.py), read once per process."""
    try:
        return spin_budget_s(NEXT_FRAME_US)
    except InvalidParameter as exc:  # a bad NOTEBOOK_TRACKER_SPIN_WAIT_US: say so, once
        log.warning("%s Not polling for call channel frames.", exc.message)
        return 0.0


async def _call(
    calls: Host, target: Target, path: str, body: bytes, notice: Notice
) -> tuple[int, bytes]:
    fn, api, is_coroutine = target
    try:
        req = Params(json_object(body))
        req.notice = notice
        with InFlight():
            if is_coroutine:
                result = await fn(api, req)
            else:
                result = await calls.context.run(fn, api, req)
        return 200, _EMPTY if type(result) is dict and not result else wire.dumps(result)
    except Exception as exc:
        return _error(path, exc)


def _error(path: str, exc: Exception) -> tuple[int, bytes]:
    status, payload = error_payload(500, exc)
    if is_expected(exc):
        log.info("POST %s -> %s", path, exc)
    else:
        log.error("Uncaught exception POST %s (call channel)", path, exc_info=exc)
    return status, json.dumps(payload).encode("utf-8")


__all__ = ["IDLE_S", "Channel", "Host", "asks_for_channel", "upgrade"]

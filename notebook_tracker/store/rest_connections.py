"""Keep-alive HTTP connections to one tracking server: one per thread, never shared by a fork.

A synchronous call (`log_param`, `set_tag`, a flush) is one small request; what it costs is
mostly set-up that need not be repeated: the TCP (and TLS) handshake, name resolution, and a
general-purpose client's per-request machinery. So each thread keeps one socket to the server
and reuses it; a process forked from this one (a notebook's multiprocessing worker) opens its
own instead of writing into its parent's socket.

The exchange is HTTP/1.1 written here rather than through `http.client`, whose per-request
header objects and e-mail parser cost about as much CPU as the server's whole write: the
request goes out in one `send` (head and body together, TCP_NODELAY), the reply is read with
as few `recv` calls as it arrived in and parsed by its status line, `Content-Length` or
chunked framing. Anything malformed is a `ConnectionError` naming what was wrong.

A kept socket the server has closed (restarted, idle timeout, a worker killed between calls)
is noticed before the request is sent, by a non-blocking peek, and replaced; one that dies
between the peek and the request resets the connection with the request unread, which is sent
again. A request sent whose answer never came otherwise (the server read it and died, a reply
cut short or garbled, a timeout) is `ReplyLost`: it may have been applied, so it is re-sent
only when the caller says that is harmless (`resend_unanswered`, false for writes of metric
points: a second copy would be a duplicate).

Used for whole (non-streamed) requests with bytes bodies to plain `http://` servers no proxy
applies to; anything else goes through `requests`, which knows proxies, streaming and the CA
bundles users configure for TLS.

MLflow's hot single calls (a param, a tag, a point: `runs/log-batch` and its three siblings)
go, where the server offers it, as frames on the call channel (wire/call_frames.py): the first
such call of a thread upgrades its kept connection, which becomes the thread's call channel (its
next HTTP request opens another: an HTTP request never goes on the channel), and every later
call is a frame and its answer, with the same JSON and the same error answers as over HTTP. A
server that answers the upgrade with anything but 101 is asked no more, and every call stays
HTTP. The rules above for a closed kept socket and a lost answer hold for frames as well.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from notebook_tracker import env
from notebook_tracker.socket_wait import ANSWER_US, SocketWait, spin_budget_s
from notebook_tracker.store.rest_replies import (
    BadReply,
    ReplyLost,
    Unanswered,
    Unread,
    read_answer,
    read_reply,
)
from notebook_tracker.wire import call_frames

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_Reply = TypeVar("_Reply")
# Each thread's two kept connections (attributes of its threading.local): HTTP, and the call
# channel once upgraded (frames only: an HTTP request never goes on it).
_HTTP, _CHANNEL = "conn", "chan"


def usable(base_url: str) -> bool:
    """Whether requests to `base_url` may go straight over a connection of this module: plain
    HTTP, and no proxy configured for it in the environment."""
    parts = urlsplit(base_url)
    if parts.scheme != "http":
        return False
    if _no_proxy_variables():
        return True
    import urllib.request

    if "http" not in urllib.request.getproxies():
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname or ""))


def _no_proxy_variables() -> bool:
    """True where `urllib.request.getproxies()` could only answer {}: a POSIX system other than
    macOS (whose system settings it also reads) with no `*_proxy` variable in the environment.
    Importing urllib.request (http.client, email, ssl) costs a fresh process's first point
    more than the rest of its HTTP client."""
    if os.name != "posix" or sys.platform == "darwin":
        return False
    return not any(name.lower().endswith("_proxy") for name in os.environ)


class _Conn:
    """One kept socket, the process that opened it, and whether it has carried a request."""

    __slots__ = ("sock", "pid", "used", "auth", "wait")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.used = False
        self.auth: str | None = None  # a call channel's: the Authorization it was upgraded with
        self.wait: SocketWait | None = None  # a call channel's way of waiting for answers


class Connections:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_line = f"Host: {host}:{self.port}\r\n" if parts.port else f"Host: {host}\r\n"
        self._local = threading.local()
        base = parts.path.rstrip("/")
        self._channel_path = f"{base}/{call_frames.UPGRADE_PATH}"
        self._hot = {f"{base}/api/2.0/mlflow/{name}": name for name in call_frames.ENDPOINTS}
        # None: not asked yet; False: the server declined, every call stays HTTP.
        self.channel: bool | None = None if env.call_channel() else False
        self._spin_s = spin_budget_s(ANSWER_US) if self.channel is None else 0.0

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        resend_unanswered: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request on this thread's connection. OSError when
        it could not be sent; ReplyLost when it was sent and no answer came."""
        parts = urlsplit(url)
        if method == "POST" and self.channel is not False and not parts.query:
            endpoint = self._hot.get(parts.path)
            if endpoint is not None:
                answer = self._call(endpoint, body or b"", headers, resend_unanswered)
                if answer is not None:
                    return answer
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        message = self._message(method, target, body, headers)
        head_only = method == "HEAD"

        def kept() -> tuple[_Conn, bool]:
            conn = self._connection()
            return conn, conn.used

        exchanged = self._exchange(
            kept, message, lambda conn: read_reply(conn.sock, head_only), resend_unanswered, _HTTP
        )
        assert exchanged is not None
        status, reply_headers, data, keep = exchanged
        if not keep:
            self.drop()
        return status, reply_headers, data

    def _call(
        self, endpoint: str, body: bytes, headers: dict[str, str], resend_unanswered: bool
    ) -> tuple[int, dict[str, str], bytes] | None:
        """A hot call as a frame on this thread's call channel (a connection of its own beside
        the thread's HTTP one); None when the server does not offer the channel (the caller
        sends it as HTTP)."""
        auth = headers.get("Authorization")

        def upgraded() -> tuple[_Conn, bool] | None:
            conn = self._kept(_CHANNEL)
            if conn is not None and conn.auth != auth:
                self.drop(_CHANNEL)  # the token changed: the server checks it at the upgrade
                conn = None
            if conn is not None:
                return conn, True
            fresh = self._upgrade(auth)
            return None if fresh is None else (fresh, False)

        frame = call_frames.request_frame(endpoint, body)
        answer = self._exchange(upgraded, frame, _read_answer, resend_unanswered, _CHANNEL)
        if answer is None:
            return None
        return answer[0], {"Content-Type": "application/json"}, answer[1]

    def _exchange(
        self,
        connection: Callable[[], tuple[_Conn, bool] | None],
        message: bytes,
        read: Callable[[_Conn], _Reply],
        resend_unanswered: bool,
        slot: str,
    ) -> _Reply | None:
        """Send `message` on the connection `connection()` gives (with whether it had carried
        an exchange before: only such a kept one is retried, once) and `read` the answer; None
        when `connection()` gives none. OSError when it could not be sent; ReplyLost when it
        was sent and no answer came. A failed connection is dropped from `slot`."""
        while True:  # twice at most: a fresh connection is never retried here
            got = connection()
            if got is None:
                return None
            conn, reused = got
            try:
                conn.sock.sendall(message)
            except OSError:
                self.drop(slot)
                if reused:
                    continue  # closed under us between the peek and the send
                raise
            conn.used = True
            try:
                return read(conn)
            except BadReply:
                self.drop(slot)
                raise
            except OSError as exc:
                self.drop(slot)
                if isinstance(exc, Unread):
                    if reused:
                        continue  # the kept socket's worker died before reading the request
                    raise
                if reused and resend_unanswered and isinstance(exc, Unanswered):
                    continue  # the server closed the kept socket as the request went out
                raise ReplyLost(
                    f"the connection ended before the server answered ({_why(exc)})"
                ) from exc

    def _upgrade(self, auth: str | None) -> _Conn | None:
        """Make a connection this thread's call channel (its kept HTTP one, which HTTP then
        replaces, or a fresh one) and return it; None if the server answers anything but 101:
        then `channel` is False for good, unless the answer was 401/403 (the HTTP call that
        follows reports the token; a corrected one may upgrade later). An upgrade cut short on
        a kept connection is asked again on a fresh one; other errors propagate (nothing was
        sent but the upgrade: the caller may retry the call)."""
        conn = self._kept(_HTTP)
        if conn is not None:
            self._local.conn = None
        else:
            conn = self._open()
        headers = {"Authorization": auth} if auth is not None else {}
        headers.update({"Upgrade": call_frames.PROTOCOL, "Connection": "Upgrade"})
        kept = conn.used
        try:
            conn.sock.sendall(self._message("GET", self._channel_path, None, headers))
            conn.used = True
            status, reply_headers, _, keep = read_reply(conn.sock, False, upgrading=True)
        except OSError as exc:
            conn.sock.close()
            if kept and not isinstance(exc, (BadReply, TimeoutError)):
                return self._upgrade(auth)  # on a fresh connection: not retried again
            raise
        if status == 101:
            upgrade = {k.lower(): v for k, v in reply_headers.items()}.get("upgrade")
            if upgrade != call_frames.PROTOCOL:
                conn.sock.close()
                raise BadReply(f"the server upgraded the connection to {upgrade!r}")
            conn.auth = auth
            if self._spin_s > 0:
                conn.wait = SocketWait(conn.sock, self._spin_s)
            self._local.chan = conn
            self.channel = True
            return conn
        if status not in (401, 403):
            self.channel = False
        if keep:
            self._local.conn = conn  # still a good HTTP connection
        else:
            conn.sock.close()
        return None

    def _message(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_line]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise ValueError(f"HTTP header {name!r} holds a line break or a colon")
            lines.append(f"{name}: {value}\r\n")
        if body is not None or method in _BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}\r\n")
        lines.append("\r\n")
        head = "".join(lines)
        if not head.isascii() or not target.isprintable() or " " in target:
            raise ValueError(f"HTTP request target or header is not plain ASCII: {target!r}")
        return head.encode("ascii") + (body or b"")

    def _kept(self, slot: str) -> _Conn | None:
        """This thread's connection in `slot` if the server has not closed it, else None."""
        conn: _Conn | None = getattr(self._local, slot, None)
        if conn is None:
            return None
        if conn.pid == os.getpid():
            if _still_open(conn):
                return conn
            conn.sock.close()
        # Closed by the server, or the parent's (after a fork): leave that one alone.
        setattr(self._local, slot, None)
        return None

    def _connection(self) -> _Conn:
        """This thread's live HTTP connection: the kept one if the server has not closed it."""
        conn = self._kept(_HTTP)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> _Conn:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (never here), or an OS without it
            pass
        return _Conn(sock)

    def drop(self, slot: str = "conn") -> None:
        """Close this thread's connection in `slot` (HTTP's by default)."""
        conn: _Conn | None = getattr(self._local, slot, None)
        setattr(self._local, slot, None)
        if conn is not None and conn.pid == os.getpid():
            conn.sock.close()


def _read_answer(conn: _Conn) -> tuple[int, bytes]:
    """The answer to the call just sent on a call channel (socket_wait.py: how it is
    waited for)."""
    if conn.wait is None:
        return read_answer(conn.sock)
    began = conn.wait.until_readable()
    answer = read_answer(conn.sock)
    conn.wait.arrived(began)
    return answer


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _still_open(conn: _Conn) -> bool:
    """False when the server has closed (or reset) this idle socket, or left bytes on it that
    belong to no request of ours: either way it must not carry the next request."""
    try:
        # A call channel's socket has a poller registered already (its SocketWait).
        if not (conn.wait.readable() if conn.wait is not None else _readable(conn.sock)):
            return True  # nothing to read: open and idle
        conn.sock.recv(1, socket.MSG_PEEK)  # b"" is the server's FIN; bytes are stray
    except OSError:
        pass
    return False


def _readable(sock: socket.socket) -> bool:
    if _poll is None:
        return bool(select.select([sock], [], [], 0)[0])
    poller = _poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


_poll = getattr(select, "poll", None)


__all__ = ["BadReply", "Connections", "ReplyLost", "usable"]

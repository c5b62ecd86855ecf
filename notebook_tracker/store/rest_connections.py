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
"""

from __future__ import annotations

import os
import select
import socket
import threading
import urllib.request
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024
_RECV = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ReplyLost(ConnectionError):
    """The request was sent (in part or whole) but no complete answer came back."""


class BadReply(ReplyLost):
    """The server's answer is not HTTP this client can read (the request may have been
    applied all the same)."""


def usable(base_url: str) -> bool:
    """Whether requests to `base_url` may go straight over a connection of this module: plain
    HTTP, and no proxy configured for it in the environment."""
    parts = urlsplit(base_url)
    if parts.scheme != "http":
        return False
    if "http" not in urllib.request.getproxies():
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname or ""))


class _Conn:
    """One kept socket, the process that opened it, and whether it has carried a request."""

    __slots__ = ("sock", "pid", "used")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.used = False


class Connections:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_line = f"Host: {host}:{self.port}\r\n" if parts.port else f"Host: {host}\r\n"
        self._local = threading.local()

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
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        message = self._message(method, target, body, headers)
        head_only = method == "HEAD"
        while True:  # twice at most: a fresh connection is never retried here
            conn = self._connection()
            reused = conn.used
            try:
                conn.sock.sendall(message)
            except OSError:
                self.drop()
                if reused:
                    continue  # closed under us between the peek and the send
                raise
            conn.used = True
            try:
                status, reply_headers, data, keep = _read_reply(conn.sock, head_only)
            except BadReply:
                self.drop()
                raise
            except OSError as exc:
                self.drop()
                if isinstance(exc, _Unread):
                    if reused:
                        continue  # the kept socket's worker died before reading the request
                    raise
                if reused and resend_unanswered and isinstance(exc, _Unanswered):
                    continue  # the server closed the kept socket as the request went out
                raise ReplyLost(
                    f"the connection ended before the server answered ({_why(exc)})"
                ) from exc
            if not keep:
                self.drop()
            return status, reply_headers, data

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

    def _connection(self) -> _Conn:
        """This thread's live connection: the kept one if the server has not closed it."""
        conn: _Conn | None = getattr(self._local, "conn", None)
        pid = os.getpid()
        if conn is not None and conn.pid == pid:
            if _still_open(conn.sock):
                return conn
            conn.sock.close()
        # None yet, closed by the server, or the parent's (after a fork): leave that one alone.
        self._local.conn = None
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (never here), or an OS without it
            pass
        conn = self._local.conn = _Conn(sock)
        return conn

    def drop(self) -> None:
        conn: _Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and conn.pid == os.getpid():
            conn.sock.close()


class _Unanswered(ConnectionError):
    """Not a byte of the answer came: the server closed the socket first (it may have read the
    request, and applied it)."""


class _Unread(ConnectionResetError):
    """The connection was reset before a byte of the answer: the server's socket was closed with
    our request still unread in it (a worker that died, a server that stopped), since a server
    that had read a request this small closes with a FIN instead. Safe to send again."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _still_open(sock: socket.socket) -> bool:
    """False when the server has closed (or reset) this idle socket, or left bytes on it that
    belong to no request of ours: either way it must not carry the next request."""
    try:
        if not _readable(sock):
            return True  # nothing to read: open and idle
        sock.recv(1, socket.MSG_PEEK)  # b"" is the server's FIN; bytes are stray
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


def _read_reply(sock: socket.socket, head_only: bool) -> tuple[int, dict[str, str], bytes, bool]:
    """(status, headers, body, keep-alive) of the next reply on `sock`; 1xx replies skipped."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise BadReply(f"reply headers longer than {MAX_HEAD_BYTES} bytes")
            try:
                chunk = sock.recv(_RECV)
            except ConnectionResetError:
                if buf:
                    raise
                raise _Unread(
                    "the server reset the connection without reading the request"
                ) from None
            if not chunk:
                if buf:
                    raise ReplyLost("the server closed the connection inside its headers")
                raise _Unanswered("the server closed the connection without answering")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
        status, version, headers, lower = _parse_head(buf[:end])
        buf = buf[end + 4 :]
        if 100 <= status < 200:
            continue
        break
    connection = lower.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if head_only or status in _NO_BODY_STATUSES:
        return status, headers, b"", keep and not buf
    coding = lower.get("transfer-encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise BadReply(f"unsupported Transfer-Encoding {coding!r}")
        body, rest = _read_chunked(sock, buf)
        return status, headers, body, keep and not rest
    length = lower.get("content-length")
    if length is None:  # the body runs to the end of the connection
        parts = [buf]
        while chunk := sock.recv(_RECV):
            parts.append(chunk)
        return status, headers, b"".join(parts), False
    size = length.strip()
    if not size.isdigit():
        raise BadReply(f"Content-Length {length!r} is not a byte count")
    body = _read_exactly(sock, buf, int(size))
    return status, headers, body[: int(size)], keep and len(body) == int(size)


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str], dict[str, str]]:
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit() or rest[3:4] not in ("", " "):
        raise BadReply(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    lower: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadReply(f"malformed reply header line: {line[:80]!r}")
        value = value.strip()
        key = name.lower()
        if key in lower:  # repeated header: joined as HTTP says (Set-Cookie aside)
            value = f"{lower[key]}, {value}"
        headers[name] = lower[key] = value
    return int(code), version, headers, lower


def _read_exactly(sock: socket.socket, buf: bytes, size: int) -> bytes:
    """At least `size` bytes: `buf` and what follows it on `sock` (read into one buffer, so a
    reply of many megabytes costs one copy)."""
    if len(buf) >= size:
        return buf
    out = bytearray(size)
    out[: len(buf)] = buf
    view, have = memoryview(out), len(buf)
    while have < size:
        got = sock.recv_into(view[have:], size - have)
        if not got:
            raise ReplyLost(f"the server closed the connection {size - have} bytes short")
        have += got
    return bytes(out)


def _read_chunked(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
    """(body, bytes past its end) of a chunked body whose first bytes are `buf`."""
    body: list[bytes] = []
    while True:
        line_end = buf.find(b"\r\n")
        while line_end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise BadReply("a chunk size line is too long")
            buf = _more(sock, buf)
            line_end = buf.find(b"\r\n")
        size_text = buf[:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadReply(f"bad chunk size {size_text[:20]!r}") from None
        buf = buf[line_end + 2 :]
        if size == 0:
            while buf.find(b"\r\n") != 0:  # trailers, then the blank line
                end = buf.find(b"\r\n")
                if end > 0:
                    buf = buf[end + 2 :]
                    continue
                buf = _more(sock, buf)
            return b"".join(body), buf[2:]
        buf = _read_exactly(sock, buf, size + 2)
        if buf[size : size + 2] != b"\r\n":
            raise BadReply("a chunk does not end with CRLF")
        body.append(buf[:size])
        buf = buf[size + 2 :]


def _more(sock: socket.socket, buf: bytes) -> bytes:
    chunk = sock.recv(_RECV)
    if not chunk:
        raise ReplyLost("the server closed the connection inside a chunked body")
    return buf + chunk

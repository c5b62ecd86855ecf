"""Replies from a tracking server read off a kept socket: HTTP/1.1 replies (status line,
headers, `Content-Length` or chunked body) and the call channel's answer frames
(wire/call_frames.py). Anything malformed is a `BadReply`; a connection that ends before a
whole reply is a `ReplyLost`, or, before its first byte, `Unanswered` or `Unread` (which tell
rest_connections.py whether sending the request again is safe)."""

from __future__ import annotations

import socket

from notebook_tracker.wire import call_frames

MAX_HEAD_BYTES = 64 * 1024
_RECV = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class ReplyLost(ConnectionError):
    """The request was sent (in part or whole) but no complete answer came back."""


class BadReply(ReplyLost):
    """The server's answer is not HTTP this client can read (the request may have been
    applied all the same)."""


class Unanswered(ConnectionError):
    """Not a byte of the answer came: the server closed the socket first (it may have read the
    request, and applied it)."""


class Unread(ConnectionResetError):
    """The connection was reset before a byte of the answer: the server's socket was closed with
    our request still unread in it (a worker that died, a server that stopped), since a server
    that had read a request this small closes with a FIN instead. Safe to send again."""


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """(status, JSON body) of the next answer frame on an upgraded `sock`."""
    size = call_frames.ANSWER_HEAD.size
    try:
        first = sock.recv(_RECV)
    except ConnectionResetError:
        raise Unread("the server reset the connection without reading the call") from None
    if not first:
        raise Unanswered("the server closed the connection without answering")
    head = read_exactly(sock, first, size)
    length, status = call_frames.ANSWER_HEAD.unpack(head[:size])
    if not 100 <= status < 600:
        raise BadReply(f"an answer frame with status {status}: not a call channel answer")
    whole = read_exactly(sock, head, size + length)
    if len(whole) != size + length:
        raise BadReply("bytes after an answer frame: the channel is out of step")
    return status, whole[size:]


def read_reply(
    sock: socket.socket, head_only: bool, upgrading: bool = False
) -> tuple[int, dict[str, str], bytes, bool]:
    """(status, headers, body, keep-alive) of the next reply on `sock`; 1xx replies skipped
    (but for 101 when `upgrading`: then nothing may follow the head)."""
    buf = b""
    while True:
        status, version, headers, lower, buf = read_head(sock, buf)
        if status == 101 and upgrading:
            if buf:
                raise BadReply("bytes after a 101 answer that the client had not asked for")
            return status, headers, b"", True
        if not 100 <= status < 200:
            break
    connection = lower.get("connection", "").lower()
    keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    if head_only or status in _NO_BODY_STATUSES:
        return status, headers, b"", keep and not buf
    coding = lower.get("transfer-encoding")
    if coding is not None:
        if coding.strip().lower() != "chunked":
            raise BadReply(f"unsupported Transfer-Encoding {coding!r}")
        body, rest = read_chunked(sock, buf)
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
    body = read_exactly(sock, buf, int(size))
    return status, headers, body[: int(size)], keep and len(body) == int(size)


def read_head(
    sock: socket.socket, buf: bytes
) -> tuple[int, str, dict[str, str], dict[str, str], bytes]:
    """The next reply head on `sock` (its first bytes in `buf`), parsed, and the bytes after it."""
    end = buf.find(b"\r\n\r\n")
    while end < 0:
        if len(buf) > MAX_HEAD_BYTES:
            raise BadReply(f"reply headers longer than {MAX_HEAD_BYTES} bytes")
        try:
            chunk = sock.recv(_RECV)
        except ConnectionResetError:
            if buf:
                raise
            raise Unread("the server reset the connection without reading the request") from None
        if not chunk:
            if buf:
                raise ReplyLost("the server closed the connection inside its headers")
            raise Unanswered("the server closed the connection without answering")
        buf += chunk
        end = buf.find(b"\r\n\r\n")
    return (*parse_head(buf[:end]), buf[end + 4 :])


def parse_head(head: bytes) -> tuple[int, str, dict[str, str], dict[str, str]]:
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


def read_exactly(sock: socket.socket, buf: bytes, size: int) -> bytes:
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


def read_chunked(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes]:
    """(body, bytes past its end) of a chunked body whose first bytes are `buf`."""
    body: list[bytes] = []
    while True:
        line_end = buf.find(b"\r\n")
        while line_end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise BadReply("a chunk size line is too long")
            buf = more(sock, buf)
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
                buf = more(sock, buf)
            return b"".join(body), buf[2:]
        buf = read_exactly(sock, buf, size + 2)
        if buf[size : size + 2] != b"\r\n":
            raise BadReply("a chunk does not end with CRLF")
        body.append(buf[:size])
        buf = buf[size + 2 :]


def more(sock: socket.socket, buf: bytes) -> bytes:
    chunk = sock.recv(_RECV)
    if not chunk:
        raise ReplyLost("the server closed the connection inside a chunked body")
    return buf + chunk

"""Servers that misbehave on cue, for the REST client's tests: each request (or call frame) is
answered with the next scripted action, bytes to send (the connection kept), None (close
without answering) or RESET (close with the request unread, which the client sees as a
reset). `ScriptedHTTP` speaks HTTP/1.1; `ScriptedChannel` upgrades every connection to the
call channel (wire/call_frames.py) and then reads frames."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from notebook_tracker.wire.call_frames import PROTOCOL

RESET = b"reset"
OK = b"ok"  # each kind's own empty success answer


class Scripted:
    """A one-thread server on loopback; `received` holds each request or frame it read."""

    ok = b""

    def __init__(self, actions: list[bytes | None]) -> None:
        self.actions = list(actions)
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while self.actions:
                conn, _ = self.listener.accept()
                with conn:
                    if self.start(conn):
                        self._answer(conn)
        except OSError:  # closed by the test
            pass

    def _answer(self, conn: socket.socket) -> None:
        while self.actions:
            if self.actions[0] == RESET:  # die with the request unread: a reset
                conn.recv(1, socket.MSG_PEEK)
                self.actions.pop(0)
                return
            request = self.read(conn)
            if request is None:
                return
            self.received.append(request)
            action = self.actions.pop(0)
            if action is None:
                return
            conn.sendall(self.ok if action == OK else action)

    def start(self, conn: socket.socket) -> bool:
        """What a new connection gets before its first request; False: close it."""
        return True

    def read(self, conn: socket.socket) -> bytes | None:
        raise NotImplementedError

    def close(self) -> None:
        self.listener.close()


class ScriptedHTTP(Scripted):
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def read(self, conn: socket.socket) -> bytes | None:
        data = _read_until(conn, b"", lambda d: b"\r\n\r\n" in d)
        if data is None:
            return None
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        return data


class ScriptedChannel(Scripted):
    """Answers every connection's first request (the upgrade) with 101; `upgrades` counts."""

    ok = struct.pack(">IH", 2, 200) + b"{}"
    upgrades = 0

    def start(self, conn: socket.socket) -> bool:
        if _read_until(conn, b"", lambda d: b"\r\n\r\n" in d) is None:
            return False
        self.upgrades += 1
        conn.sendall(
            f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {PROTOCOL}\r\n"
            "Connection: Upgrade\r\n\r\n".encode()
        )
        return True

    def read(self, conn: socket.socket) -> bytes | None:
        return _read_until(
            conn, b"", lambda d: len(d) >= 5 and len(d) >= 4 + struct.unpack(">I", d[:4])[0]
        )


def _read_until(conn: socket.socket, data: bytes, done: Callable[[bytes], bool]) -> bytes | None:
    while not done(data):
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def scripted_fixture(
    kind: type[Scripted], name: str = "scripted"
) -> Callable[..., Iterator[Callable[..., Scripted]]]:
    """A pytest fixture called `name` making `kind` servers from a list of actions, closed
    after the test."""

    @pytest.fixture(name=name)
    def scripted() -> Iterator[Callable[[list[bytes | None]], Scripted]]:
        made: list[Scripted] = []

        def make(actions: list[bytes | None]) -> Scripted:
            made.append(kind(actions))
            return made[-1]

        yield make
        for server in made:
            server.close()

    return scripted

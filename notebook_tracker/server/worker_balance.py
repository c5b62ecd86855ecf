"""Spreading a standalone server's connections over its workers.

The workers share one listening socket, and whichever is woken first accepts every connection
waiting. Clients open their keep-alive connections together, so one worker usually got them
all: in 8 runs of 4 connections, 6 put all four on one worker and 2 put three, never two and
two. That worker then parsed every request and made every commit while the other idled, and
the JSON log-batch load ran at 835-875 requests/s on four connections against 947-958 when
another worker had one of them.

Here each worker counts its open connections in memory the workers share (one slot each,
written only by its worker), accepts one connection at a time, and leaves a waiting one to a
worker with fewer: it stops listening for YIELD_S, and then takes the connection itself if it
is still waiting and no peer accepted one meanwhile, so a peer that is stuck or not scheduled
delays a client's connection by YIELD_S, never more.
"""

from __future__ import annotations

import mmap
import socket
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
from tornado.ioloop import IOLoop

YIELD_S = 0.005


class ConnectionCounts:
    """Open connections per worker, in anonymous shared memory: make it before the fork."""

    def __init__(self, workers: int) -> None:
        self._memory = mmap.mmap(-1, 8 * workers)
        self._slots = memoryview(self._memory).cast("q")

    def add(self, worker: int, n: int) -> None:
        self._slots[worker] += n

    def busier_than_a_peer(self, worker: int) -> bool:
        """Whether another worker holds fewer connections than `worker`."""
        slots = self._slots
        mine = slots[worker]
        return any(count < mine for i, count in enumerate(slots) if i != worker)

    def __getitem__(self, worker: int) -> int:
        return int(self._slots[worker])

    def total(self) -> int:
        return int(sum(self._slots))


class BalancedHTTPServer(tornado.httpserver.HTTPServer):
    """An HTTPServer that counts its connections and yields waiting ones to a less busy
    worker (`balance`); without `balance`, tornado's own."""

    counts: ConnectionCounts | None = None
    worker = 0

    def balance(self, counts: ConnectionCounts, worker: int) -> None:
        """Count this worker's connections in slot `worker` of `counts`, from zero: a worker
        restarted in a dead one's place does not inherit the connections that died with it."""
        self.counts, self.worker = counts, worker
        counts.add(worker, -counts[worker])

    def handle_stream(self, stream: Any, address: Any) -> None:
        if self.counts is not None:
            self.counts.add(self.worker, 1)
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        if self.counts is not None:
            self.counts.add(self.worker, -1)
        super().on_close(server_conn)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        if self.counts is None:
            super().add_sockets(sockets)
            return
        for sock in sockets:
            # As TCPServer.add_sockets, with this accept handler: its `stop` calls the remover.
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = _accept_balanced(
                sock, self.counts, self.worker, self._handle_connection
            )


def _accept_balanced(
    sock: socket.socket,
    counts: ConnectionCounts,
    worker: int,
    accepted: Callable[[socket.socket, Any], None],
) -> Callable[[], None]:
    """Accept on `sock` one connection at a time, yielding to less busy workers; the remover."""
    loop = IOLoop.current()
    state = {"removed": False, "paused": False, "take": False, "peers": 0}

    def ready(fd: Any, events: int) -> None:
        while not state["removed"]:
            if not state["take"] and counts.busier_than_a_peer(worker):
                state["paused"], state["peers"] = True, counts.total() - counts[worker]
                loop.remove_handler(sock)
                loop.call_later(YIELD_S, resume)
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:  # a peer took it, or none is waiting
                state["take"] = False
                return
            except ConnectionAbortedError:  # closed while it waited
                continue
            state["take"] = False
            accepted(connection, address)

    def resume() -> None:
        if state["removed"]:
            return
        # A connection still waiting is ours unless a peer took one meanwhile (it is awake and
        # accepting, so it is asked again): a peer that is stuck never strands a client.
        state["paused"] = False
        state["take"] = counts.total() - counts[worker] == state["peers"]
        loop.add_handler(sock, ready, IOLoop.READ)

    def remove() -> None:
        state["removed"] = True
        if not state["paused"]:
            loop.remove_handler(sock)

    loop.add_handler(sock, ready, IOLoop.READ)
    return remove

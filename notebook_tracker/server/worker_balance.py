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
delays a client's connection by YIELD_S.

Unless that peer is itself yielding: two workers that accept at the same instant can each see
the other with fewer connections, both stop listening, and the one that resumes first took
the last connection (1/3, in 3 of 15 JSON loads on four connections, each such load 15-20%
slower). So each worker also says in the shared memory whether it is yielding, and one with
more connections leaves a waiting connection to a less busy peer that is yielding too, since
that peer resumes within YIELD_S. A peer that never resumes (stopped, or dead while
yielding) holds a client back by MAX_YIELDS rounds of YIELD_S at most.

A busier worker also wakes such a peer (a byte down the peer's pipe, made before the fork)
rather than leave it to its timer: in a burst of connections the workers hand the listening
socket to each other at once instead of each waiting out YIELD_S, where 300 connections
opened at once took 1.1 s to be answered (p99; 20 ms on one worker), their SYNs dropped once
the pace of accepting filled the backlog.
"""

from __future__ import annotations

import mmap
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
from tornado.ioloop import IOLoop

YIELD_S = 0.005
MAX_YIELDS = 4


class ConnectionCounts:
    """Open connections per worker, and whether each is yielding, in anonymous shared memory:
    make it before the fork."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._memory = mmap.mmap(-1, 16 * workers)
        everything = memoryview(self._memory).cast("q")
        self._slots = everything[:workers]
        self._yielding = everything[workers:]
        self._wakers = [os.pipe() for _ in range(workers)]  # (read, write) per worker
        for ends in self._wakers:
            for end in ends:
                os.set_blocking(end, False)

    def add(self, worker: int, n: int) -> None:
        self._slots[worker] += n

    def set_yielding(self, worker: int, yielding: bool) -> None:
        self._yielding[worker] = int(yielding)

    def yielding(self, worker: int) -> bool:
        return bool(self._yielding[worker])

    def _less_busy_yielding(self, worker: int) -> list[int]:
        """The workers holding fewer connections than `worker` that are yielding."""
        slots, yielding = self._slots, self._yielding
        mine = slots[worker]
        return [i for i in range(self._workers) if slots[i] < mine and yielding[i]]

    def a_less_busy_peer_yields(self, worker: int) -> bool:
        """Whether a worker holding fewer connections than `worker` is yielding: it resumes
        within YIELD_S and takes what waits."""
        return bool(self._less_busy_yielding(worker))

    def wake_fd(self, worker: int) -> int:
        """The end `worker` reads: readable when a peer wants it to stop yielding."""
        return self._wakers[worker][0]

    def wake_yielding_peers(self, worker: int) -> None:
        """Ask every less busy peer that is yielding to resume now."""
        for peer in self._less_busy_yielding(worker):
            try:
                os.write(self._wakers[peer][1], b"\0")
            except BlockingIOError:  # its pipe is full: it has been asked already
                pass

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
        counts.set_yielding(worker, False)

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
    state: dict[str, Any] = {
        "removed": False, "paused": False, "take": False, "peers": 0, "yields": 0, "timer": None
    }  # fmt: skip
    wake_fd = counts.wake_fd(worker)

    def ready(fd: Any, events: int) -> None:
        while not state["removed"]:
            if not state["take"] and counts.busier_than_a_peer(worker):
                state["paused"], state["peers"] = True, counts.total() - counts[worker]
                counts.set_yielding(worker, True)
                counts.wake_yielding_peers(worker)
                loop.remove_handler(sock)
                state["timer"] = loop.call_later(YIELD_S, resume)
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:  # a peer took it, or none is waiting
                state["take"], state["yields"] = False, 0
                return
            except ConnectionAbortedError:  # closed while it waited
                continue
            state["take"], state["yields"] = False, 0
            accepted(connection, address)

    def woken(fd: Any, events: int) -> None:
        try:
            while os.read(wake_fd, 64):
                pass
        except BlockingIOError:
            pass
        if state["paused"] and not state["removed"]:
            loop.remove_timeout(state["timer"])
            resume()

    def resume() -> None:
        if state["removed"] or not state["paused"]:
            return
        # A connection still waiting is ours unless a peer took one meanwhile (it is awake and
        # accepting, so it is asked again) or a less busy peer is yielding too (it resumes
        # soon): a peer that is stuck strands no client beyond MAX_YIELDS rounds.
        state["paused"] = False
        counts.set_yielding(worker, False)
        state["yields"] += 1
        state["take"] = counts.total() - counts[worker] == state["peers"] and (
            state["yields"] >= MAX_YIELDS or not counts.a_less_busy_peer_yields(worker)
        )
        loop.add_handler(sock, ready, IOLoop.READ)

    def remove() -> None:
        state["removed"] = True
        counts.set_yielding(worker, False)
        loop.remove_handler(wake_fd)
        if not state["paused"]:
            loop.remove_handler(sock)

    loop.add_handler(wake_fd, woken, IOLoop.READ)
    loop.add_handler(sock, ready, IOLoop.READ)
    return remove

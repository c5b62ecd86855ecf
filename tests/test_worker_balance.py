"""A standalone server's connections are spread over its workers (server/worker_balance.py)."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from helpers import wait_until
from standalone_server import running_server

from notebook_tracker.server.worker_balance import (
    MAX_YIELDS,
    ConnectionCounts,
    _accept_balanced,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the workers' sockets from /proc"
)


def _workers(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry))
    return sorted(found)


def _sockets(port: int, listening: bool) -> set[str]:
    """Inodes of the TCP sockets on local `port`: the listening one, or the connections (in
    any state: one its client closed stays the worker's until the worker sees it)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and (fields[3] == "0A") == listening:
            inodes.add(fields[9])
    return inodes


def _fds(pid: int) -> dict[str, str]:
    """fd -> what it points to, of process `pid`."""
    found = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            found[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
    return found


def _connections(pid: int, port: int) -> int:
    """Connections to `port` that process `pid` has accepted and not yet closed."""
    inodes = _sockets(port, listening=False)
    return sum(t.startswith("socket:[") and t[8:-1] in inodes for t in _fds(pid).values())


def _listening(pid: int, port: int) -> bool:
    """Whether worker `pid` waits for connections: its event loop watches the listening socket."""
    inodes = _sockets(port, listening=True)
    fds = _fds(pid)
    listen = [fd for fd, t in fds.items() if t.startswith("socket:[") and t[8:-1] in inodes]
    for fd, target in fds.items():
        if target == "anon_inode:[eventpoll]":
            watched = Path(f"/proc/{pid}/fdinfo/{fd}").read_text().split()
            if any(
                watched[i] == "tfd:" and watched[i + 1] in listen for i in range(len(watched) - 1)
            ):
                return True
    return False


def _spread_of_four(port: int, workers: list[int]) -> list[int]:
    """Open four connections at once, as a client's pool does, use each, and say how many
    each worker holds once it settles (sorted); each is still answered after that."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(4)]
    try:
        for conn in conns:
            conn.connect()
        for _ in range(2):
            for conn in conns:
                conn.request("GET", "/health")
                answer = conn.getresponse()
                assert answer.status == 200 and answer.read()
        held = [-1]

        def settled() -> bool:
            now = sorted(_connections(pid, port) for pid in workers)
            done, held[0:] = now == held, now
            return done and sum(now) == 4

        wait_until(settled, timeout=10, interval=0.2, what="the workers' connections")
        return held
    finally:
        for conn in conns:
            conn.close()
        wait_until(lambda: not any(_connections(pid, port) for pid in workers), timeout=10)


def test_connections_opened_together_are_spread_over_the_workers(tmp_path):
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", workers=2) as server:
        wait_until(lambda: len(_workers(server.proc.pid)) == 2, timeout=30)
        workers = _workers(server.proc.pid)
        # A worker still starting does not accept yet, and its peer rightly takes the rest.
        wait_until(lambda: all(_listening(pid, server.port) for pid in workers), timeout=30)
        # The start-up check's connection counts until its worker has closed it.
        wait_until(lambda: not any(_connections(pid, server.port) for pid in workers))
        # Where the first worker woken takes every waiting connection (the VM the balancing
        # was built on), 6 of 8 tries put all four on one worker without it: three tries in
        # a row with none such, 1 in 64. A worker not scheduled within the few ms it is left
        # is rightly passed over, so a loaded machine may leave 1/3 (a CI run: 1/3, 1/3, 2/2),
        # never one worker idle. (Where the kernel spreads its wakeups itself, as on a later
        # VM, tries spread 2/2 with or without balancing: 19 of 24 tries with it off, none
        # 0/4.)
        spreads = [_spread_of_four(server.port, workers) for _ in range(3)]
        assert all(low > 0 for low, _ in spreads), f"connections each worker held: {spreads}"


def test_a_worker_with_more_connections_than_a_peer_is_the_busier():
    counts = ConnectionCounts(3)
    counts.add(0, 2)
    counts.add(1, 2)
    assert not counts.busier_than_a_peer(2)
    assert counts.busier_than_a_peer(0)
    counts.add(2, 2)
    assert not any(counts.busier_than_a_peer(w) for w in range(3))
    counts.add(1, -1)
    assert counts.busier_than_a_peer(0) and not counts.busier_than_a_peer(1)
    assert [counts[w] for w in range(3)] == [2, 1, 2]


def test_a_restarted_worker_counts_its_connections_from_zero():
    from notebook_tracker.server.worker_balance import BalancedHTTPServer

    counts = ConnectionCounts(2)
    counts.add(1, 5)  # what a worker that died held
    BalancedHTTPServer(lambda request: None).balance(counts, 1)
    assert counts[1] == 0 and not counts.busier_than_a_peer(1)


class _CountedYields(ConnectionCounts):
    """Two workers' counts that also count worker 1's rounds of yielding."""

    def __init__(self) -> None:
        super().__init__(2)
        self.rounds = 0

    def set_yielding(self, worker: int, yielding: bool) -> None:
        super().set_yielding(worker, yielding)
        self.rounds += worker == 1 and yielding


def _take_one_connection(
    counts: ConnectionCounts,
    worker: int,
    record: Callable[[], object],
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> tuple[object, float]:
    """`worker`'s accept handler, given one waiting connection (`meanwhile` runs while it
    waits): what `record()` said when the worker took it, and the seconds that took."""
    taken: list[tuple[object, float]] = []

    def accepted(connection: socket.socket, address: object) -> None:
        taken.append((record(), time.monotonic()))
        counts.add(worker, 1)
        connection.close()

    async def scenario() -> float:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.setblocking(False)
            remove = _accept_balanced(listener, counts, worker, accepted)
            try:
                with socket.create_connection(listener.getsockname()[:2], timeout=5):
                    start = time.monotonic()
                    if meanwhile is not None:
                        await meanwhile()
                    while not taken and time.monotonic() - start < 10:
                        await asyncio.sleep(0.001)
            finally:
                remove()
        return start

    start = asyncio.run(scenario())
    assert taken, f"worker {worker} never took the waiting connection"
    return taken[0][0], taken[0][1] - start


def test_a_busier_worker_leaves_a_connection_to_a_less_busy_peer_that_is_yielding_too():
    """Two workers accepting at one instant each saw the other with fewer connections and both
    yielded; the first to resume took the last connection, leaving them 1/3."""
    counts = _CountedYields()
    counts.add(0, 1)
    counts.add(1, 2)
    counts.set_yielding(0, True)  # and it never resumes: the wait is bounded all the same
    rounds, _ = _take_one_connection(counts, 1, lambda: counts.rounds)
    assert rounds == MAX_YIELDS


def test_a_busier_worker_takes_a_connection_a_peer_not_yielding_left_waiting():
    counts = _CountedYields()
    counts.add(0, 1)
    counts.add(1, 2)  # worker 0 is not scheduled: it neither accepts nor yields
    rounds, _ = _take_one_connection(counts, 1, lambda: counts.rounds)
    assert rounds == 1


def test_a_yielding_worker_woken_by_a_busier_peer_takes_the_waiting_connection_at_once(
    monkeypatch: pytest.MonkeyPatch,
):
    """Two workers that yield in turn used to hand the listening socket over only when a timer
    ran out: a burst of connections was accepted a few every YIELD_S."""
    from notebook_tracker.server import worker_balance

    monkeypatch.setattr(worker_balance, "YIELD_S", 30.0)  # its timer alone would take 30 s
    counts = ConnectionCounts(2)
    counts.add(0, 1)  # worker 0 holds more than worker 1: it yields the waiting connection

    async def worker_1_takes_two_and_wakes_it() -> None:
        start = time.monotonic()
        while not counts.yielding(0) and time.monotonic() - start < 5:
            await asyncio.sleep(0.001)
        counts.add(1, 2)
        counts.wake_yielding_peers(1)

    _, seconds = _take_one_connection(counts, 0, lambda: None, worker_1_takes_two_and_wakes_it)
    assert seconds < 5


def _listen_overflows() -> int:
    """The kernel's count of connections dropped because a listening socket's queue was full."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    raise AssertionError("no TcpExt line in /proc/net/netstat")


def test_a_burst_of_connections_is_accepted_at_once_and_spread(tmp_path):
    """600 connections opened at once (a team's clients reconnecting after a restart): none is
    dropped for a full queue (tornado's queue of 128 dropped some, retried by the client 1 s
    later), each is answered at once, and the workers hold half each."""
    with running_server(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", workers=2) as server:
        workers = _workers(server.proc.pid)
        wait_until(lambda: all(_listening(pid, server.port) for pid in workers), timeout=30)
        wait_until(lambda: not any(_connections(pid, server.port) for pid in workers))
        overflows = _listen_overflows()
        clients = [socket.socket() for _ in range(600)]
        try:
            start = time.monotonic()
            for client in clients:
                client.setblocking(False)
                client.connect_ex(("127.0.0.1", server.port))
            for client in clients:
                client.settimeout(30)
                client.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answers = [client.recv(12) for client in clients]
            elapsed = time.monotonic() - start
            held = sorted(_connections(pid, server.port) for pid in workers)
        finally:
            for client in clients:
                client.close()
    assert answers == [b"HTTP/1.1 200"] * 600
    assert _listen_overflows() == overflows
    assert held[0] >= 250, f"connections each worker held: {held}"
    # Workers that handed the socket over only when a timer ran out: 0.82 s; now about 0.1 s.
    assert elapsed < 0.5, f"600 connections answered in {elapsed:.2f} s"

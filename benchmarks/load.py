"""Load generation shared by the server benchmarks (bench_server.py, bench_ingest.py).

One bounded load: N worker threads, each with its own connection or client, set up first and
then released together; each times every request it makes. The figures are taken from the
release to the last thread's end, so connection set-up and request building stay out of them.

    load = post_bodies(port, "/api/2.0/mlflow/runs/log-batch", bodies_per_connection)
    load.raise_errors("log-batch")
    load.per_second, load.p50_ms, load.p99_ms
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

JSON = "application/json"


@dataclass
class Recorder:
    """One worker thread's record; merged into a `Load` once every thread has joined."""

    _barrier: threading.Barrier
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    released: bool = False

    def ready(self) -> None:
        """Wait until every worker is set up: the measured load starts for all at once."""
        self._barrier.wait()
        self.released = True

    @contextmanager
    def timed(self) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.latencies.append(time.perf_counter() - t0)


@dataclass
class Load:
    latencies: list[float]
    elapsed: float
    errors: list[str]
    reconnects: int

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def p50_ms(self) -> float:
        return percentiles_ms(self.latencies)[0]

    @property
    def p99_ms(self) -> float:
        return percentiles_ms(self.latencies)[1]

    def raise_errors(self, what: str) -> None:
        if self.errors:
            raise RuntimeError(f"{len(self.errors)} {what} errors, first: {self.errors[0]}")


def percentiles_ms(latencies: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds (nearest rank)."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return 1000 * ordered[len(ordered) // 2], 1000 * p99


def run_workers(workers: Sequence[Callable[[Recorder], None]]) -> Load:
    """Run each worker on its own thread. A worker sets up, calls `rec.ready()`, then makes its
    requests inside `with rec.timed():`. A worker that raises is reported as an error; one that
    raises before `ready()` stops the whole load (the others would wait for it forever)."""
    barrier = threading.Barrier(len(workers) + 1)
    records = [Recorder(barrier) for _ in workers]

    def target(work: Callable[[Recorder], None], rec: Recorder) -> None:
        try:
            work(rec)
        except Exception as exc:
            rec.errors.append(repr(exc)[:300])
            if not rec.released:
                barrier.abort()

    threads = [
        threading.Thread(target=target, args=pair) for pair in zip(workers, records, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        errors = [e for rec in records for e in rec.errors]
        raise RuntimeError(f"a worker failed while setting up: {errors[:1]}") from None
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    return Load(
        latencies=[s for rec in records for s in rec.latencies],
        elapsed=elapsed,
        errors=[e for rec in records for e in rec.errors],
        reconnects=sum(rec.reconnects for rec in records),
    )


def post_bodies(
    port: int,
    path: str,
    bodies: Sequence[Sequence[bytes]],
    content_type: str = JSON,
    reconnect: bool = False,
) -> Load:
    """POST `bodies[i]` one after another on keep-alive connection i, all connections at once.
    A non-200 answer is an error. With `reconnect`, a connection the server drops is opened
    again and the request sent again (at most 3 tries, counted in `reconnects`); without it the
    worker stops there with the error.

    Each request's bytes are made before the load, and sent and read on a plain socket
    (`RawConnection`): with http.client building each request and parsing each answer's
    headers, the load generator, which shares the machine's cores with the server it
    measures, spent 0.32 ms of CPU a 100-metric log-batch (its bodies' JSON included), a fifth
    of all the CPU a request took against our server on PostgreSQL; now 0.22 ms. Both servers
    get the same requests, and a server bound by its own CPU (MLflow's) is hardly moved by it."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"

    def worker(mine: Sequence[bytes]) -> Callable[[Recorder], None]:
        requests = [f"{head}Content-Length: {len(b)}\r\n\r\n".encode() + b for b in mine]

        def work(rec: Recorder) -> None:
            conn = RawConnection(port)
            rec.ready()
            try:
                for request in requests:
                    with rec.timed():
                        for attempt in range(3 if reconnect else 1):
                            try:
                                status, raw = conn.send(request)
                                break
                            except OSError:
                                conn.close()
                                if not reconnect or attempt == 2:
                                    raise
                                conn = RawConnection(port)
                                rec.reconnects += 1
                    if status != 200:
                        rec.errors.append(f"{status} {raw[:200]!r}")
            finally:
                conn.close()

        return work

    return run_workers([worker(mine) for mine in bodies])


class RawConnection:
    """An HTTP/1.1 keep-alive connection to 127.0.0.1 that sends ready-made requests and reads
    each answer's status and body (Content-Length or chunked). A connection the server closed,
    or an answer cut short, raises ConnectionError (an OSError)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._more()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = dict(_field(line) for line in lines[1:])
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = self._chunked()
        else:
            body = self._exactly(int(fields.get(b"content-length", b"0")))
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
            self.sock = socket.socket()  # the next send fails: the caller reconnects
        return status, body

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._more()
        body, self.buffer = self.buffer[:n], self.buffer[n:]
        return body

    def _chunked(self) -> bytes:
        parts = []
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._more()
            size = int(self.buffer[:end].split(b";")[0], 16)
            self.buffer = self.buffer[end + 2 :]
            parts.append(self._exactly(size))
            self._exactly(2)  # the chunk's CRLF
            if size == 0:
                return b"".join(parts)


def _field(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


def log_batch_body(run_id: str, step: int, n_metrics: int = 100) -> bytes:
    """MLflow's JSON runs/log-batch request: `n_metrics` keys at one step."""
    metrics = [
        {"key": f"m{k}", "value": random.random(), "timestamp": 1_700_000_000_000 + step,
         "step": step}
        for k in range(n_metrics)
    ]  # fmt: skip
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and every live descendant (a server's workers):
    what a request costs the server, which the machine's other load inflates far less than the
    wall-clock figures. 0.0 where /proc is absent."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat") as proc_stat:
                stat = proc_stat.read()
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except OSError:  # gone meanwhile, or no /proc here
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_ticks() -> tuple[int, int] | None:
    """The machine's CPU ticks so far, (busy, all), from /proc/stat; None where it is absent."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]  # guest time is in user's
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the cores busy between two `machine_ticks` readings: near 100, a load is
    bound by the CPU, not by waits."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return 100.0 * (after[0] - before[0]) / (after[1] - before[1])

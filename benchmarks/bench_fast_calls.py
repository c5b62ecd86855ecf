"""The standalone server's fast calls (server/fast_calls.py) against the regular handlers, A/B.

    python benchmarks/bench_fast_calls.py [--quick] [--calls N] [--passes N] [--dir DIR]

One worker process serves a fresh SQLite store on tmpfs (so the commit's fsync, the same both
ways, is left out; `--dir /tmp` puts it on the disk, where a slow fsync also decides whether
writes stay on the IO loop: server/mlflow_api/sync_calls.py) either through `FastCalls` or
through the tornado Application alone; one
keep-alive connection posts MLflow's `runs/log-parameter`, `runs/set-tag` and `runs/log-metric`
one after another. Printed: the worker's CPU per call (from /proc, the steadier figure on a
shared machine) and the wall time per call, medians of interleaved passes. The side-by-side
with MLflow is bench_ingest.py's `--only sync`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import time
from typing import Any

OPS = ("log-parameter", "set-tag", "log-metric")


def _serve(port: int, db: str, ready: Any, stop: Any, fast: bool) -> None:
    import asyncio

    import tornado.httpserver

    from notebook_tracker.server import standalone
    from notebook_tracker.server.fast_calls import FastCalls

    context = standalone.make_context(f"sqlite:///{db}", None)
    app = standalone.make_app(context)
    target = FastCalls(app, context) if fast else app

    async def main() -> None:
        server = tornado.httpserver.HTTPServer(target)
        server.listen(port, "127.0.0.1")
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)

    asyncio.run(main())


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_pass(fast: bool, calls: int, where: str | None) -> dict[str, tuple[float, float]]:
    """op -> (wall ms, server CPU ms) per call, the store in a fresh folder under `where`."""
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        return _measure(fast, calls, f"{tmp}/bench.db")


def _measure(fast: bool, calls: int, db: str) -> dict[str, tuple[float, float]]:
    from notebook_tracker.store.sql import SqlStore

    SqlStore(f"sqlite:///{db}").writer.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready, stop = mp.Event(), mp.Event()
    proc = mp.Process(target=_serve, args=(port, db, ready, stop, fast))
    proc.start()
    ready.wait(60)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        conn.request("POST", f"/api/2.0/mlflow/{path}", body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path} -> {resp.status}: {raw[:200]!r}")
        return json.loads(raw)

    run_id = post("runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    bodies = {
        "log-parameter": lambda i: {"run_id": run_id, "key": f"p{i}", "value": "1"},
        "set-tag": lambda i: {"run_id": run_id, "key": "t", "value": str(i)},
        "log-metric": lambda i: {
            "run_id": run_id, "key": "m", "value": 0.5, "timestamp": 1, "step": i,
        },
    }  # fmt: skip
    out = {}
    try:
        for op in OPS:
            for i in range(50):  # warm-up
                post(f"runs/{op}", bodies[op](-1 - i))
            cpu, t0 = _cpu_seconds(proc.pid), time.perf_counter()
            for i in range(calls):
                post(f"runs/{op}", bodies[op](i))
            wall = (time.perf_counter() - t0) / calls
            out[op] = (1000 * wall, 1000 * (_cpu_seconds(proc.pid) - cpu) / calls)
    finally:
        conn.close()
        stop.set()
        proc.join(30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--passes", type=int, default=5, help="interleaved A/B passes")
    parser.add_argument("--quick", action="store_true", help="2 passes of 1,000 calls")
    parser.add_argument(
        "--dir",
        default="/dev/shm" if os.path.isdir("/dev/shm") else None,
        help="where the store lives (default tmpfs, no fsync cost; a disk folder such as /tmp "
        "adds each commit's real fdatasync)",
    )
    args = parser.parse_args()
    if args.quick:
        args.calls, args.passes = 1000, 2
    results: dict[bool, list[dict[str, tuple[float, float]]]] = {False: [], True: []}
    for _ in range(args.passes):
        for fast in (False, True):
            results[fast].append(one_pass(fast, args.calls, args.dir))

    def median(fast: bool, op: str, index: int) -> float:
        return statistics.median(p[op][index] for p in results[fast])

    print(f"\nStandalone server, 1 worker, SQLite under {args.dir}, {args.calls} calls, medians of "
          f"{args.passes} interleaved passes; shared machine")  # fmt: skip
    print(f"{'per call':34} {'fast calls':>10} {'regular':>10} {'ratio':>7}")
    for op in OPS:
        for index, what in ((1, "server CPU ms"), (0, "wall ms")):
            fast, regular = median(True, op, index), median(False, op, index)
            print(f"{op + ' ' + what:34} {fast:>10.3f} {regular:>10.3f} {regular / fast:>6.2f}x")


if __name__ == "__main__":
    main()

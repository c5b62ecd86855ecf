"""Server ingest figures, notebook-tracker vs `mlflow server` (SQLite, loopback), one table.

    python benchmarks/bench_ingest.py [--quick]
        [--only json,json-store,compact,team,sync,sync-jupyter]

1. json: MLflow's JSON runs/log-batch, 100 metrics a request, 4 keep-alive connections, each
   logging to its own run; both servers with 2 workers, timed once SERVER_SETTLE_S old
   (`settle`). Requests/s, p50, p99.
   Target: >= 20x MLflow's requests/s, p99 < 50 ms.
   json-store: the same load, on a store that already holds STORE_RUNS finished runs of 100
   metrics each (logged and ended through the same REST calls before the timing): a team's
   server is rarely empty, and what a write costs may grow with what the store holds.
   json-pg: the same load on PostgreSQL, a team server's store: each server on a fresh
   database of one PostgreSQL server (`--postgres-uri`, else one of our own from
   /usr/lib/postgresql, with PostgreSQL's default durability: every commit flushed). MLflow
   is sent PG_MLFLOW_REQUESTS requests at most (about a minute at its rate). With our own
   PostgreSQL server, also its CPU per request (postmaster and backends), and how busy the
   machine's cores were during the load (near 100%: the rate is bound by the CPU, and the
   ratio of the two rates is the ratio of what a request costs the machine).
2. compact: our compact batch frames (wire/batch.py; 20 keys x 1,000 points a frame) to a
   1-worker server from 2 connections. Points durable per second: counted when the server has
   answered (it answers once the transaction has committed), then checked in the database.
   Target: >= 500,000 points/s per worker. (MLflow has no such format: its JSON figure is
   given for scale.)
3. team: 50 threads, each with its own client and run (our RestStore against both servers:
   the same requests), each sending 100-metric batches. Errors, requests/s, p50, p99.
4. sync: one synchronous call after another from one thread (log_param, set_tag, log_metric):
   our TrackingClient to our server vs MlflowClient to MLflow's. Ms per call: the calls are
   timed in blocks of 100, and the figure is the median of the blocks' means (then of the
   passes), on both sides; each call is first warmed up for 0.2 s (`warm_up` says why). The
   shared machine's disk has spells of 0.1-0.2 s in which a durable commit takes 1.3-1.5x as
   long: 5 of 32 blocks of 300 of our calls (0.1 s each) ran at 0.40-0.48 ms against
   0.29-0.34 for the rest, where MLflow's calls, whose few fdatasyncs are a small part of
   7 ms, hardly move. A median of blocks gives the usual call, on both sides; the CPU rows
   below count every call.
   Target: >= 20x faster. sync-jupyter: the same calls through the Jupyter server extension
   (a `jupyter server` with the Jupyter token), beside MLflow's standalone figures.

Server CPU rows: user + system time of the server's processes (its workers included) per
request, read from /proc: far less sensitive to the machine's other load than the wall-clock
figures, so the better guide on a shared machine (Linux only; left out elsewhere). Client CPU
rows (sync): the benchmark process's own CPU per call, i.e. the client library's share.
Durability is equal on both sides: each server's SQLite commits with synchronous=FULL (ours in
WAL mode, one fdatasync a commit; MLflow's SQLAlchemy default, rollback journal) and answers
after the commit.

Each server runs alone on a fresh SQLite file (started as bench_server.py starts them). The
machine's other load shows in the figures: run passes interleaved and compare medians.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import load  # noqa: E402
from bench_server import (  # noqa: E402
    API,
    call,
    start_mlflow,
    start_tracker,
)
from load import log_batch_body  # noqa: E402

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
WARM_S, WARM_CALLS = 0.2, 10  # each synchronous call's warm-up (warm_up)
BLOCK = 100  # synchronous calls timed together (bench_sync)
STORE_RUNS = 1_000  # finished runs already in the store (json-store)
PG_MLFLOW_REQUESTS = 1_000  # MLflow's requests on PostgreSQL (json-pg)
SERVER_SETTLE_S = 15.0  # a server's age before its synchronous calls are timed (settle)


def _new_run(port: int) -> str:
    exp = call(port, "POST", "/experiments/create", {"name": f"b-{uuid.uuid4().hex[:8]}"})
    run = call(port, "POST", "/runs/create", {"experiment_id": exp["experiment_id"]})
    return str(run["run"]["info"]["run_id"])


# -- 1. JSON log-batch ---------------------------------------------------------------------------
def bench_json(
    port: int, n_requests: int, conns: int, pid: int = 0, db_pid: int = 0
) -> dict[str, float]:
    """bench_server's log-batch load, but a connection the server drops is re-opened (and the
    request sent again, counted in `json_reconnects`) instead of ending the run. With the
    server's `pid`, also its CPU per request (all its processes); with the database server's
    `db_pid` (PostgreSQL's postmaster), its CPU per request too, and how busy the machine's
    cores were during the load."""
    run_ids = [_new_run(port) for _ in range(conns)]
    bodies = [[log_batch_body(r, s) for s in range(n_requests // conns)] for r in run_ids]
    cpu = load.cpu_seconds(pid) if pid else 0.0
    db_cpu = load.cpu_seconds(db_pid) if db_pid else 0.0
    ticks = load.machine_ticks()
    result = load.post_bodies(port, API + "/runs/log-batch", bodies, reconnect=True)
    busy = load.busy_percent(ticks, load.machine_ticks())
    cpu = load.cpu_seconds(pid) - cpu if pid else 0.0
    db_cpu = load.cpu_seconds(db_pid) - db_cpu if db_pid else 0.0
    result.raise_errors("log-batch")
    out = {"req_s": result.per_second, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
           "json_reconnects": float(result.reconnects)}  # fmt: skip
    if cpu > 0:
        out["json_cpu_ms"] = 1000 * cpu / len(result.latencies)
    if db_cpu > 0:
        out["json_db_cpu_ms"] = 1000 * db_cpu / len(result.latencies)
    if busy is not None:
        out["json_busy_pct"] = busy
    return out


def fill_store(port: int, runs: int, conns: int = 4) -> None:
    """`runs` finished runs of 100 metrics each, through the REST API (json-store)."""
    run_ids = [_new_run(port) for _ in range(runs)]
    bodies = [[log_batch_body(r, 0) for r in run_ids[i::conns]] for i in range(conns)]
    load.post_bodies(port, API + "/runs/log-batch", bodies, reconnect=True).raise_errors("fill")
    for run_id in run_ids:
        call(port, "POST", "/runs/update", {"run_id": run_id, "status": "FINISHED",
                                            "end_time": 1_700_000_000_000})  # fmt: skip


def _check_json_points(store: Path | str, sent: int) -> None:
    """Every point answered 200 is in the store, a SQLite file or a PostgreSQL URI (staged
    rows included: their count is their points')."""
    count = "SELECT coalesce(sum(count), 0) FROM metric_chunks"
    if isinstance(store, Path):
        with sqlite3.connect(store) as check:
            stored = check.execute(count).fetchone()[0]
    else:
        import psycopg2

        with contextlib.closing(psycopg2.connect(store)) as check, check.cursor() as cur:
            cur.execute(count)
            stored = cur.fetchone()[0]
    assert stored == sent, f"JSON log-batch: {stored} points stored, {sent} sent"


@contextlib.contextmanager
def postgres_server(uri: str | None) -> Iterator[tuple[str, int]]:
    """(`uri`, 0), or a PostgreSQL server of our own for the run (bench_scale's, durable) and
    its postmaster's pid, whose processes' CPU a load's figures then include."""
    if uri:
        yield uri, 0
        return
    from bench_scale import Postgres

    server = Postgres(durable=True)
    try:
        found = server.start()
        yield found, int((server.data / "postmaster.pid").read_text().split()[0])
    finally:
        server.stop()


@contextlib.contextmanager
def pg_database(server: str, system: str) -> Iterator[str]:
    """A fresh database on `server` for `system` (ours or mlflow), dropped after."""
    import psycopg2

    name = f"ntingest_{system}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        base = server.rpartition("/")[0]
        if system == "mlflow":  # SQLAlchemy's default PostgreSQL driver may be psycopg 3
            base = base.replace("postgresql://", "postgresql+psycopg2://", 1)
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def bench_json_pg(name: str, tmp: Path, args: argparse.Namespace) -> dict[str, float]:
    start = start_mlflow if name == "mlflow" else start_tracker
    system = "mlflow" if name == "mlflow" else "ours"
    requests = min(args.requests, PG_MLFLOW_REQUESTS) if name == "mlflow" else args.requests
    with pg_database(args.pg_server, system) as uri:
        tag = uuid.uuid4().hex[:6]
        server = start(uri, tmp / f"{name}-art", 2, tmp / f"{name}-{tag}-pg.log")
        try:
            settle(time.monotonic())
            found = bench_json(server.port, requests, 4, server.proc.pid, args.pg_pid)
        finally:
            server.stop()
        if name != "mlflow":
            _check_json_points(uri, requests // 4 * 4 * 100)
    return {f"pg_{k}": v for k, v in found.items()}


# -- 2. compact frames ---------------------------------------------------------------------------
def bench_compact(port: int, db: Path, frames: int, conns: int) -> dict[str, float]:
    from notebook_tracker.wire import batch

    keys, per_key = 20, 1000
    run_ids = [_new_run(port) for _ in range(conns)]

    def frame(run_id: str, n: int) -> bytes:
        rows = [
            (run_id, f"m{k}", random.random(), 1_700_000_000_000 + s, n * per_key + s)
            for k in range(keys)
            for s in range(per_key)
        ]
        return batch.encode(run_id, rows)

    bodies = [[frame(r, n) for n in range(frames // conns)] for r in run_ids]
    result = load.post_bodies(port, "/api/ingest", bodies, batch.CONTENT_TYPE)
    result.raise_errors("compact")
    with sqlite3.connect(db) as check:
        stored = check.execute("SELECT sum(count) FROM metric_chunks").fetchone()[0]
    sent = len(result.latencies) * keys * per_key
    assert stored == sent, f"{stored} points stored, {sent} sent"
    return {"points_s": sent / result.elapsed, "p50_ms_compact": result.p50_ms,
            "p99_ms_compact": result.p99_ms}  # fmt: skip


# -- 3. a team: 50 clients at once ---------------------------------------------------------------
def bench_team(port: int, clients: int, per_client: int) -> dict[str, float]:
    from notebook_tracker.entities import Metric
    from notebook_tracker.store.rest import RestStore

    uri = f"http://127.0.0.1:{port}"
    run_ids = [_new_run(port) for _ in range(clients)]

    def worker(run_id: str) -> Callable[[load.Recorder], None]:
        def work(rec: load.Recorder) -> None:
            store = RestStore(uri)
            rec.ready()
            for step in range(per_client):
                metrics = [
                    Metric(f"m{k}", random.random(), 1_700_000_000_000, step) for k in range(100)
                ]
                with rec.timed():
                    try:
                        store.log_batch(run_id, metrics=metrics)
                    except Exception as exc:  # counted and reported, not raised
                        rec.errors.append(repr(exc)[:200])

        return work

    result = load.run_workers([worker(r) for r in run_ids])
    return {"team_req_s": result.per_second, "team_p50_ms": result.p50_ms,
            "team_p99_ms": result.p99_ms, "team_errors": float(len(result.errors))}  # fmt: skip


# -- 4. synchronous calls ------------------------------------------------------------------------
def bench_sync(
    port: int, calls: int, mlflow: bool, pid: int = 0, base: str = "", token: str | None = None
) -> dict[str, float]:
    """Mean wall ms per call from one thread, and the server's CPU ms per call; `base` and
    `token`: a server inside Jupyter (its `/notebook-tracker` path and the Jupyter token)."""
    uri = f"http://127.0.0.1:{port}{base}"
    if mlflow:
        from mlflow import MlflowClient

        client: object = MlflowClient(uri)
    else:
        from notebook_tracker.client import TrackingClient
        from notebook_tracker.store.rest import RestStore

        client = TrackingClient(uri, store=RestStore(uri, token=token))
    exp = client.create_experiment(f"b-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    run_id = client.create_run(exp).info.run_id  # type: ignore[attr-defined]
    ops: dict[str, Callable[[int], object]] = {
        "log_param": lambda i: client.log_param(run_id, f"p{i}", i),  # type: ignore[attr-defined]
        "set_tag": lambda i: client.set_tag(run_id, "t", i),  # type: ignore[attr-defined]
        "log_metric": lambda i: client.log_metric(run_id, "m", 0.5, step=i),  # type: ignore[attr-defined]
    }
    out = {}
    for name, op in ops.items():
        warm_up(op)
        cpu = load.cpu_seconds(pid) if pid else 0.0
        own = time.process_time()
        blocks, start = [], 0
        for size in _blocks(calls):
            t0 = time.perf_counter()
            for i in range(start, start + size):
                op(i)
            blocks.append(1000 * (time.perf_counter() - t0) / size)
            start += size
        out[f"sync_{name}_ms"] = statistics.median(blocks)
        out[f"sync_{name}_client_cpu_ms"] = 1000 * (time.process_time() - own) / calls
        if pid:
            out[f"sync_{name}_cpu_ms"] = 1000 * (load.cpu_seconds(pid) - cpu) / calls
    return out


def _blocks(calls: int) -> list[int]:
    """`calls` as timed blocks of about BLOCK calls (at least one block)."""
    count = max(1, round(calls / BLOCK))
    return [calls // count + (1 if k < calls % count else 0) for k in range(count)]


def warm_up(op: Callable[[int], object]) -> None:
    """Call `op` for WARM_S (at least WARM_CALLS times) before it is timed: the connection is
    set up, first-call imports done, and the machine awake: after 0.2-2 s without writes, a
    bare pwrite + fdatasync loop in one process takes 0.27-0.31 ms (once 1.4 ms) for its first
    ten fdatasyncs where it then takes 0.17-0.21, and a new client's first 20-70 synchronous
    calls took 0.5-1.4 ms where the rest took 0.3, on a fresh server as after a load; whoever
    writes. Negative indices: the warm-up's params are not the timed ones."""
    deadline, i = time.perf_counter() + WARM_S, 0
    while i < WARM_CALLS or time.perf_counter() < deadline:
        i += 1
        op(-i)


def settle(started: float) -> None:
    """Let the server, up since `started` (time.monotonic), finish starting, and the disk what
    the previous workload left it (a synchronous call waits for its own fdatasync, which waits
    behind any writeback): the Jupyter pass, which followed MLflow's rollback-journal commits,
    measured 0.7-1.15 ms a call where it measured 0.5-0.6 alone. MLflow's server answers
    slowly for its first seconds, whatever it is asked: from a fresh start, `log_param` took
    23.6 / 32.0 / 24.8 ms a call over its first three blocks of 100 and 7.6 ms after, where
    after 15 s idle it took 6.7-7.2 ms from the first call. So no server is timed before it is
    SERVER_SETTLE_S old (ours are held to the same rule), for the JSON load too: 400 JSON
    log-batch requests to a fresh MLflow server ran at 28.6 req/s, and the next three sets of
    400, from 15 s on, at 60.1, 40.2 and 50.9."""
    os.sync()
    time.sleep(max(1.0, started + SERVER_SETTLE_S - time.monotonic()))


@contextlib.contextmanager
def jupyter_server(tmp: Path, db: Path) -> Iterator[tuple[int, int, str]]:
    """A `jupyter server` with the extension on a fresh SQLite store: (port, pid, token)."""
    import signal
    import subprocess
    import urllib.request

    from bench_server import free_port

    port, token = free_port(), uuid.uuid4().hex
    root = tmp / f"jupyter-{token[:6]}"
    root.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOOK_TRACKER_", "JUPYTER"))
    }
    env.update(NOTEBOOK_TRACKER_URI=f"sqlite:///{db}", JUPYTER_RUNTIME_DIR=str(root))
    args = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.jpserver_extensions={'notebook_tracker': True}",
    ]  # fmt: skip
    with (root / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "server.log").read_text()[-3000:])
            try:
                url = f"http://127.0.0.1:{port}/api/status?token={token}"
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        yield port, proc.pid, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


# -- driver --------------------------------------------------------------------------------------
def measure(name: str, tmp: Path, args: argparse.Namespace) -> dict[str, float]:
    start = start_mlflow if name == "mlflow" else start_tracker
    results: dict[str, float] = {}
    tag = uuid.uuid4().hex[:6]
    if {"json", "json-store", "team", "sync"} & args.only:
        db = tmp / f"{name}-{tag}.db"
        server = start(db, tmp / f"{name}-art", 2, tmp / f"{name}-{tag}.log")
        started = time.monotonic()
        try:
            if "json" in args.only:
                print(f"[{name}] json log-batch ...", flush=True)
                settle(started)  # MLflow's first pass after a start ran at 29 req/s, then 40-60
                results.update(bench_json(server.port, args.requests, 4, server.proc.pid))
                if name != "mlflow":
                    _check_json_points(db, args.requests // 4 * 4 * 100)
            if "json-store" in args.only:
                print(f"[{name}] json log-batch, store of {STORE_RUNS:,} runs ...", flush=True)
                fill_store(server.port, STORE_RUNS)
                settle(started)
                found = bench_json(server.port, args.requests, 4, server.proc.pid)
                results.update({f"store_{k}": v for k, v in found.items()})
            if "team" in args.only:
                print(f"[{name}] team ({args.clients} clients) ...", flush=True)
                results.update(bench_team(server.port, args.clients, args.per_client))
            if "sync" in args.only:
                print(f"[{name}] sync calls ...", flush=True)
                settle(started)
                results.update(
                    bench_sync(server.port, args.calls, name == "mlflow", server.proc.pid)
                )
        finally:
            server.stop()
    if "json-pg" in args.only:
        print(f"[{name}] json log-batch, PostgreSQL ...", flush=True)
        found = bench_json_pg(name, tmp, args)
        cpu = (
            f", server CPU {found['pg_json_cpu_ms']:.2f} ms/req"
            if "pg_json_cpu_ms" in found
            else ""
        )
        if "pg_json_db_cpu_ms" in found:
            cpu += f", PostgreSQL CPU {found['pg_json_db_cpu_ms']:.2f} ms/req"
        if "pg_json_busy_pct" in found:
            cpu += f", cores {found['pg_json_busy_pct']:.0f}% busy"
        print(
            f"    {found['pg_req_s']:,.0f} req/s, p99 {found['pg_p99_ms']:.1f} ms{cpu}", flush=True
        )
        results.update(found)
    if "sync-jupyter" in args.only and name != "mlflow":
        print(f"[{name}] sync calls through the Jupyter server extension ...", flush=True)
        with jupyter_server(tmp, tmp / f"{name}-{tag}-j.db") as (port, pid, token):
            settle(time.monotonic())
            found = bench_sync(port, args.calls, False, pid, "/notebook-tracker", token)
        results.update({f"jupyter_{k}": v for k, v in found.items()})
    if "compact" in args.only and name != "mlflow":
        db = tmp / f"{name}-{tag}-c.db"
        server = start(db, tmp / f"{name}-art", 1, tmp / f"{name}-{tag}-c.log")
        try:
            print(f"[{name}] compact frames (1 worker) ...", flush=True)
            results.update(bench_compact(server.port, db, args.frames, 2))
        finally:
            server.stop()
    return results


ROWS = [
    # label, key, format, higher is better, target (ours vs MLflow, or an absolute figure)
    ("JSON log-batch (100 metrics) req/s, 4 conns", "req_s", "{:,.0f}", True, ">= 20x"),
    ("JSON log-batch p50 ms", "p50_ms", "{:.1f}", False, ""),
    ("JSON log-batch p99 ms", "p99_ms", "{:.1f}", False, "< 50 ms"),
    ("JSON log-batch: connections dropped by server", "json_reconnects", "{:.0f}", False, "0"),
    ("JSON log-batch server CPU ms/request", "json_cpu_ms", "{:.2f}", False, ""),
    ("JSON log-batch: cores busy %", "json_busy_pct", "{:.0f}", False, ""),
    ("JSON log-batch req/s, store of 1,000 runs", "store_req_s", "{:,.0f}", True, ">= 20x"),
    ("JSON log-batch p99 ms, store of 1,000 runs", "store_p99_ms", "{:.1f}", False, "< 50 ms"),
    ("JSON log-batch server CPU ms/request, 1,000 runs", "store_json_cpu_ms", "{:.2f}", False, ""),
    ("JSON log-batch req/s, PostgreSQL", "pg_req_s", "{:,.0f}", True, ">= 20x"),
    ("JSON log-batch p99 ms, PostgreSQL", "pg_p99_ms", "{:.1f}", False, "< 50 ms"),
    ("JSON log-batch server CPU ms/request, PostgreSQL", "pg_json_cpu_ms", "{:.2f}", False, ""),
    ("JSON log-batch PostgreSQL's CPU ms/request", "pg_json_db_cpu_ms", "{:.2f}", False, ""),
    ("JSON log-batch: cores busy %, PostgreSQL", "pg_json_busy_pct", "{:.0f}", False, ""),
    ("compact frames, points/s (1 worker)", "points_s", "{:,.0f}", True, ">= 500,000"),
    ("compact frame (20k points) p99 ms", "p99_ms_compact", "{:.1f}", False, ""),
    ("team: 50 clients, req/s", "team_req_s", "{:,.0f}", True, ""),
    ("team: p50 ms", "team_p50_ms", "{:.1f}", False, ""),
    ("team: p99 ms", "team_p99_ms", "{:.1f}", False, "no blow-up"),
    ("team: errors", "team_errors", "{:.0f}", False, "0"),
    ("sync log_param ms/call", "sync_log_param_ms", "{:.2f}", False, ">= 20x"),
    ("sync set_tag ms/call", "sync_set_tag_ms", "{:.2f}", False, ">= 20x"),
    ("sync log_metric ms/call", "sync_log_metric_ms", "{:.2f}", False, ">= 20x"),
    ("sync log_param server CPU ms/call", "sync_log_param_cpu_ms", "{:.2f}", False, ""),
    ("sync set_tag server CPU ms/call", "sync_set_tag_cpu_ms", "{:.2f}", False, ""),
    ("sync log_metric server CPU ms/call", "sync_log_metric_cpu_ms", "{:.2f}", False, ""),
    ("sync log_param client CPU ms/call", "sync_log_param_client_cpu_ms", "{:.2f}", False, ""),
    ("sync set_tag client CPU ms/call", "sync_set_tag_client_cpu_ms", "{:.2f}", False, ""),
    ("sync log_metric client CPU ms/call", "sync_log_metric_client_cpu_ms", "{:.2f}", False, ""),
]
ROWS += [  # the same calls through the Jupyter server extension (--only sync-jupyter)
    (f"{label}, Jupyter ext.", f"jupyter_{key}", fmt, higher, target)
    for label, key, fmt, higher, target in ROWS
    if key.startswith("sync_")
]
# A row measured only on our side (through Jupyter) is compared with MLflow's standalone figure.
VERSUS = {key: key.removeprefix("jupyter_") for _, key, *_ in ROWS if key.startswith("jupyter_")}


def _median(passes: list[dict[str, float]]) -> dict[str, float]:
    keys = set().union(*passes) if passes else set()
    return {k: statistics.median(p[k] for p in passes if k in p) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="json,json-store,json-pg,compact,team,sync,sync-jupyter")
    parser.add_argument("--postgres-uri", help="json-pg: a server to create the databases on")
    parser.add_argument("--passes", type=int, default=3, help="interleaved passes (medians)")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--quick", action="store_true", help="one pass, fewer requests")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    if args.quick:
        args.passes, args.requests, args.frames, args.per_client, args.calls = 1, 1000, 60, 10, 100
    names = ["notebook-tracker"] + (["mlflow"] if HAVE_MLFLOW and not args.no_mlflow else [])
    passes: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    if "json-pg" in args.only and not args.postgres_uri and not glob.glob("/usr/lib/postgresql"):
        print("json-pg left out: no --postgres-uri and no PostgreSQL under /usr/lib/postgresql")
        args.only.discard("json-pg")
    no_pg = contextlib.nullcontext(("", 0))
    pg = postgres_server(args.postgres_uri) if "json-pg" in args.only else no_pg
    with tempfile.TemporaryDirectory(prefix="nt-bench-ingest-") as tmp_dir, pg as pg_server:
        args.pg_server, args.pg_pid = pg_server
        for _ in range(args.passes):
            for name in names:
                passes[name].append(measure(name, Path(tmp_dir), args))
    nt = _median(passes["notebook-tracker"])
    ml = _median(passes["mlflow"]) if "mlflow" in passes else {}
    stores = "SQLite" + (", PostgreSQL rows on PostgreSQL" if "json-pg" in args.only else "")
    print(f"\nServer ingest, {stores}, loopback, {args.passes} pass(es), medians; shared machine")
    width = max(len(label) for label, key, *_ in ROWS if key in nt)
    print(f"{'':{width}} {'ours':>12} {'mlflow':>10} {'ratio':>8}  target")
    for label, key, fmt, higher, target in ROWS:
        if key not in nt:
            continue
        ours = fmt.format(nt[key])
        other = VERSUS.get(key, key)
        theirs = fmt.format(ml[other]) if other in ml else "-"
        ratio = "-"
        if other in ml and nt[key] and ml[other]:
            ratio = f"{(nt[key] / ml[other]) if higher else (ml[other] / nt[key]):.1f}x"
        print(f"{label:{width}} {ours:>12} {theirs:>10} {ratio:>8}  {target}")
    print("(ratio > 1: ours better; throughput ours/theirs, latency theirs/ours)")


if __name__ == "__main__":
    main()

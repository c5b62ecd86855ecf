"""Tracking-server figures, side by side with `mlflow server` (both 2 workers, SQLite, loopback).

    python benchmarks/bench_server.py [--quick] [--requests N] [--connections C] [--runs R]

Each server gets its own fresh SQLite file and is measured alone (the other is stopped), with
the same bounded load generator: C keep-alive connections on threads, a fixed number of
requests in all, then it stops. Both speak the same MLflow REST API, so the requests are
byte-for-byte the same.

1. log-batch: requests of 100 metrics each (100 keys, one step per request), every connection
   logging to its own run. Figure: requests per second, and p50/p99 latency.
2. search over R runs (default 10,000; each with 3 params, 3 metrics, 2 tags), loaded straight
   into each server's database before it starts, then queried through REST:
   a. "best 100": `metrics.accuracy > 0.5 AND params.model = 'cnn'`, ordered by accuracy;
   b. "all runs": every run of the experiment, paged 1,000 at a time as mlflow.search_runs does.
   Figure: median latency of sequential requests.

Prints each figure for both servers and the ratio (notebook-tracker / MLflow for throughput,
MLflow / notebook-tracker for latency: above 1 means notebook-tracker is better).
MLflow is skipped if it is not installed.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import load  # noqa: E402
from load import log_batch_body  # noqa: E402

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
API = "/api/2.0/mlflow"
SEARCH_FILTER = "metrics.accuracy > 0.5 AND params.model = 'cnn'"


# -- servers -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, name: str, args: list[str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # its own process group: stopped as a whole below
            )  # fmt: skip
        self.log = log
        deadline = time.monotonic() + 240
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            try:
                status, _ = request(self.port, "GET", "/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                time.sleep(0.5)  # let the group's other processes go too
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def store_uri(db: Path | str) -> str:
    """A SQLite file's URI; a string is a database URI already (PostgreSQL)."""
    return db if isinstance(db, str) else f"sqlite:///{db}"


def start_tracker(db: Path | str, artifacts: Path, workers: int, log: Path) -> Server:
    port = free_port()
    args = [
        sys.executable, "-m", "notebook_tracker.cli", "server",
        "--backend-store-uri", store_uri(db), "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    return Server("notebook-tracker", args, port, log)


def start_mlflow(db: Path | str, artifacts: Path, workers: int, log: Path) -> Server:
    port = free_port()
    args = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", store_uri(db), "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    return Server("mlflow", args, port, log)


# -- HTTP ----------------------------------------------------------------------------------------
def request(port: int, method: str, path: str, body: bytes | None = None,
            conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:  # fmt: skip
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            conn.close()


def call(port: int, method: str, path: str, payload: dict | None = None) -> dict:
    body = json.dumps(payload).encode() if payload is not None else None
    status, raw = request(port, method, API + path, body)
    if status != 200:
        raise RuntimeError(f"{method} {path} -> {status}: {raw[:300]!r}")
    return json.loads(raw) if raw else {}


# -- 1. log-batch throughput ---------------------------------------------------------------------
def bench_log_batch(port: int, n_requests: int, n_connections: int) -> dict[str, float]:
    exp_id = call(port, "POST", "/experiments/create", {"name": f"lb-{uuid.uuid4().hex[:8]}"})[
        "experiment_id"
    ]
    run_ids = [
        call(port, "POST", "/runs/create", {"experiment_id": exp_id, "start_time": 1})["run"][
            "info"
        ]["run_id"]
        for _ in range(n_connections)
    ]
    per_conn = n_requests // n_connections
    bodies = [[log_batch_body(run_id, step) for step in range(per_conn)] for run_id in run_ids]
    # MLflow's uvicorn can close a keep-alive connection between requests: it is re-opened and
    # the request sent again (counted), where before the thread died and its requests went
    # missing from the figures.
    result = load.post_bodies(port, API + "/runs/log-batch", bodies, reconnect=True)
    result.raise_errors("log-batch")
    return {"req_s": result.per_second, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "reconnects": float(result.reconnects)}  # fmt: skip


# -- 2. search over many runs --------------------------------------------------------------------
def synthetic_runs(n: int) -> list[dict]:
    rng = random.Random(42)
    runs = []
    for i in range(n):
        runs.append(
            {
                "run_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "name": f"run-{i}",
                "start": 1_700_000_000_000 + i * 1000,
                "params": {"model": rng.choice(["cnn", "mlp", "rnn"]), "lr": str(rng.random()),
                           "batch": str(rng.choice([32, 64, 128]))},
                "metrics": {"accuracy": rng.random(), "loss": rng.random(),
                            "f1": rng.random()},
                "tags": {"mlflow.user": "bench", "team": rng.choice(["a", "b"])},
            }
        )  # fmt: skip
    return runs


def load_tracker(db: Path, runs: list[dict]) -> str:
    """Bulk-load runs through the store's own tables (the search path is what is measured)."""
    from sqlalchemy import insert

    from notebook_tracker.store import schema
    from notebook_tracker.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{db}", default_artifact_root="mlflow-artifacts:")
    exp_id = store.create_experiment("search-bench")
    with store.writer.begin() as conn:
        conn.execute(insert(schema.runs), [
            {"run_uuid": r["run_id"], "name": r["name"], "experiment_id": int(exp_id),
             "user_id": "bench", "status": "FINISHED", "start_time": r["start"],
             "end_time": r["start"] + 500, "lifecycle_stage": "active",
             "artifact_uri": f"mlflow-artifacts:/{exp_id}/{r['run_id']}/artifacts"}
            for r in runs
        ])  # fmt: skip
        conn.execute(insert(schema.params), [
            {"run_uuid": r["run_id"], "key": k, "value": v}
            for r in runs for k, v in r["params"].items()
        ])  # fmt: skip
        conn.execute(insert(schema.tags), [
            {"run_uuid": r["run_id"], "key": k, "value": v}
            for r in runs for k, v in {**r["tags"], "mlflow.runName": r["name"]}.items()
        ])  # fmt: skip
    store.log_metric_rows(
        (r["run_id"], k, v, r["start"] + 400, 0) for r in runs for k, v in r["metrics"].items()
    )
    store.reader.dispose()
    store.writer.dispose()
    return exp_id


def load_mlflow(db: Path, artifacts: Path, runs: list[dict]) -> str:
    """Let MLflow create its schema, then bulk-insert the same runs into its tables."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    exp_id = store.create_experiment("search-bench")
    store.engine.dispose()
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', "
            "?, ?, '', 'active', ?, ?)",
            [(r["run_id"], r["name"], r["start"], r["start"] + 500,
              f"mlflow-artifacts:/{exp_id}/{r['run_id']}/artifacts", int(exp_id)) for r in runs],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(k, v, r["run_id"]) for r in runs for k, v in r["params"].items()],
        )
        conn.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [(k, v, r["run_id"]) for r in runs
             for k, v in {**r["tags"], "mlflow.runName": r["name"]}.items()],
        )  # fmt: skip
        for table in ("metrics", "latest_metrics"):
            conn.executemany(
                f"INSERT INTO {table} (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, 0, 0, ?)",
                [(k, v, r["start"] + 400, r["run_id"])
                 for r in runs for k, v in r["metrics"].items()],
            )  # fmt: skip
    conn.close()
    return exp_id


def bench_search(port: int, exp_id: str, n_runs: int, reps: int) -> dict[str, float]:
    best_body = {
        "experiment_ids": [exp_id],
        "filter": SEARCH_FILTER,
        "order_by": ["metrics.accuracy DESC"],
        "max_results": 100,
        "run_view_type": "ACTIVE_ONLY",
    }
    expected_best = None
    best_times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        found = call(port, "POST", "/runs/search", best_body)["runs"]
        best_times.append(time.perf_counter() - t0)
        ids = [r["info"]["run_id"] for r in found]
        expected_best = expected_best or ids
        assert ids == expected_best and len(ids) == 100
    all_times = []
    for _ in range(max(1, reps // 5)):
        t0 = time.perf_counter()
        total, token = 0, None
        while True:
            body = {"experiment_ids": [exp_id], "max_results": 1000,
                    "run_view_type": "ACTIVE_ONLY", "order_by": []}  # fmt: skip
            if token:
                body["page_token"] = token
            page = call(port, "POST", "/runs/search", body)
            total += len(page.get("runs", []))
            token = page.get("next_page_token")
            if not token:
                break
        all_times.append(time.perf_counter() - t0)
        assert total == n_runs, (total, n_runs)
    return {
        "best_ms": 1000 * statistics.median(best_times),
        "all_ms": 1000 * statistics.median(all_times),
        "best_ids": expected_best,  # type: ignore[dict-item]
    }


# -- driver --------------------------------------------------------------------------------------
def measure(name: str, tmp: Path, args: argparse.Namespace, runs: list[dict]) -> dict:
    db, artifacts = tmp / f"{name}.db", tmp / f"{name}-artifacts"
    print(f"\n[{name}] loading {len(runs):,} runs ...", flush=True)
    if name == "mlflow":
        exp_id = load_mlflow(db, artifacts, runs)
        server = start_mlflow(db, artifacts, args.workers, tmp / f"{name}.log")
    else:
        exp_id = load_tracker(db, runs)
        server = start_tracker(db, artifacts, args.workers, tmp / f"{name}.log")
    try:
        print(f"[{name}] search ({args.search_reps} reps) ...", flush=True)
        search = bench_search(server.port, exp_id, len(runs), args.search_reps)
        print(f"[{name}] log-batch ({args.requests} x 100 metrics, {args.connections} conns) ...",
              flush=True)  # fmt: skip
        batch = bench_log_batch(server.port, args.requests, args.connections)
    finally:
        server.stop()
    return {**search, **batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--search-reps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer requests and runs")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.runs, args.search_reps = 400, 2000, 5

    runs = synthetic_runs(args.runs)
    results = {}
    with tempfile.TemporaryDirectory(prefix="nt-bench-server-") as tmp_dir:
        tmp = Path(tmp_dir)
        results["notebook-tracker"] = measure("notebook-tracker", tmp, args, runs)
        if HAVE_MLFLOW:
            results["mlflow"] = measure("mlflow", tmp, args, runs)
    nt, ml = results["notebook-tracker"], results.get("mlflow")
    if ml is not None:
        assert nt["best_ids"] == ml["best_ids"], "the two servers disagree on the best runs"

    print(f"\nTracking server, {args.workers} workers each, SQLite, loopback "
          f"({os.cpu_count()} CPUs)")  # fmt: skip
    rows = [
        ("log-batch (100 metrics) req/s", "req_s", "{:,.0f}", True),
        ("log-batch latency p50 ms", "p50_ms", "{:.1f}", False),
        ("log-batch latency p99 ms", "p99_ms", "{:.1f}", False),
        ("log-batch: connections dropped by server", "reconnects", "{:.0f}", False),
        (f"search best 100 of {args.runs:,} ms", "best_ms", "{:.1f}", False),
        (f"search all {args.runs:,} (paged) ms", "all_ms", "{:,.0f}", False),
    ]
    print(f"{'':42} {'notebook-tracker':>17} {'mlflow':>12} {'ratio':>8}")
    for label, key, fmt, higher_better in rows:
        ours = fmt.format(nt[key])
        theirs = fmt.format(ml[key]) if ml else "-"
        ratio = "-"
        if ml and nt[key] and ml[key]:
            ratio = f"{(nt[key] / ml[key]) if higher_better else (ml[key] / nt[key]):.1f}x"
        print(f"{label:42} {ours:>17} {theirs:>12} {ratio:>8}")
    print("(ratio > 1: notebook-tracker better; throughput ours/theirs, latency theirs/ours)")


if __name__ == "__main__":
    main()

"""Synchronous logging and history compaction, side by side with MLflow (SQLite for both).

    python benchmarks/bench_sync_logging.py [--quick] [--reps N] [--code PATH] [--only TABLE]

Prints two tables:
1. `log_metric(..., synchronous=True)` per point, against MLflow's `log_metric` (synchronous),
   at equal durability, each row naming the SQLite settings it ran with:
   - FULL: ours in WAL with synchronous=FULL (the default), MLflow as it ships (rollback
     journal, synchronous=FULL): both survive a power loss once the call returns;
   - NORMAL: both in WAL with synchronous=NORMAL (ours through NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS,
     MLflow's engine through a SQLAlchemy connect hook): both survive a process crash only.
2. Reading back a history of N points written one point per commit (the synchronous path:
   `log_metric_rows` with one row, N times) against the same N points written in one batch
   (the buffered path): first read, then the median of later reads.

Each workload runs in a fresh subprocess, ours and MLflow's interleaved, `--reps` times; the
table shows medians. `--code PATH` runs ours from another checkout (a "before" figure);
`--dir /dev/shm` puts the databases on tmpfs, where an fsync costs nothing (CPU cost only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None

COMMON = """
import json, os, sys, time, tempfile
d = tempfile.mkdtemp(dir=os.environ.get("BENCH_DIR") or None)
uri = f"sqlite:///{d}/bench.db"
"""

OURS_SYNC = """
import notebook_tracker as nt
nt.set_tracking_uri(uri)
N = {n}
with nt.start_run():
    for i in range(20):  # warm: connections, statements
        nt.log_metric("warm", 0.5, step=i, synchronous=True)
    t = time.perf_counter()
    for i in range(N):
        nt.log_metric("loss", 0.5, step=i, synchronous=True)
    elapsed = time.perf_counter() - t
print(json.dumps({{"per_point_us": elapsed / N * 1e6}}))
"""

MLFLOW_SYNC = """
{hook}
import mlflow
mlflow.set_tracking_uri(uri)
N = {n}
with mlflow.start_run():
    for i in range(20):
        mlflow.log_metric("warm", 0.5, step=i)
    t = time.perf_counter()
    for i in range(N):
        mlflow.log_metric("loss", 0.5, step=i)
    elapsed = time.perf_counter() - t
print(json.dumps({{"per_point_us": elapsed / N * 1e6}}))
"""

# MLflow has no setting for its SQLite journal: every new connection gets WAL + NORMAL here.
MLFLOW_WAL_NORMAL = """
from sqlalchemy import event
from sqlalchemy.engine import Engine
@event.listens_for(Engine, "connect")
def _wal_normal(dbapi_conn, _record):
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
"""

OURS_HISTORY = """
import statistics
import numpy  # imported by the first read otherwise: not what is measured
from notebook_tracker.store.sql import SqlStore
N = {n}
store = SqlStore(uri)
run_id = store.create_run("0", "bench", 0).info.run_id
if "{mode}" == "sync":
    t = time.perf_counter()
    for i in range(N):  # what log_metric(..., synchronous=True) does per point
        store.log_metric_rows([(run_id, "m", float(i), 1000 + i, i)])
    write_s = time.perf_counter() - t
else:
    t = time.perf_counter()
    store.log_metric_rows([(run_id, "m", float(i), 1000 + i, i) for i in range(N)])
    write_s = time.perf_counter() - t
from sqlalchemy import text
with store.reader.connect() as conn:
    chunks_before = conn.execute(text("SELECT count(*) FROM metric_chunks")).scalar_one()
times, cpu = [], []
for _ in range(6):
    t, c = time.perf_counter(), time.thread_time()
    h = store.get_metric_history(run_id, "m")
    times.append(time.perf_counter() - t)
    cpu.append(time.thread_time() - c)
    assert len(h) == N and h.steps[-1] == N - 1
print(json.dumps({{"first_ms": times[0] * 1e3, "later_ms": statistics.median(times[1:]) * 1e3,
                  "first_cpu_ms": cpu[0] * 1e3,
                  "write_us": write_s / N * 1e6, "chunks": chunks_before}}))
"""


def run(code: str, env: dict[str, str], timeout: float = 3600) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", COMMON + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", **env},
        cwd=tempfile.gettempdir(),  # `python -c` imports from its cwd first: not a checkout's
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(results: list[dict], field: str) -> float:
    return statistics.median(r[field] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads, one rep")
    parser.add_argument("--reps", type=int, default=None, help="runs per figure (median)")
    parser.add_argument("--code", help="run ours from this checkout (PYTHONPATH)")
    parser.add_argument(
        "--dir", help="where the databases go (default: the temp dir); /dev/shm: no disk cost"
    )
    parser.add_argument(
        "--only", choices=("sync", "history"), help="print one of the two tables (default: both)"
    )
    args = parser.parse_args()
    quick = args.quick
    reps = args.reps or (1 if quick else 3)
    ours_env = {"PYTHONPATH": args.code} if args.code else {}
    if args.dir:
        os.environ["BENCH_DIR"] = args.dir
    n_ours, n_mlflow = (300, 100) if quick else (2000, 300)
    n_history = 20_000 if quick else 100_000
    print(
        f"# synchronous logging ({'quick' if quick else 'full'}, median of {reps}; SQLite; "
        f"ours from {args.code or 'this checkout'}; databases in {args.dir or 'the temp dir'})"
    )

    if args.only != "history":
        _sync_table(reps, ours_env, n_ours, n_mlflow)
    if args.only != "sync":
        _history_table(reps, ours_env, n_history)


def _sync_table(reps: int, ours_env: dict[str, str], n_ours: int, n_mlflow: int) -> None:
    print("\n## log_metric(synchronous=True) per point, at equal durability")
    print(
        f"{'durability':<10} {'ours: SQLite settings':<26} {'ours us':>9}  "
        f"{'MLflow: SQLite settings':<28} {'MLflow us':>10}  {'MLflow/ours':>11}  target"
    )
    settings = [
        ("FULL", "WAL, synchronous=FULL", "DELETE journal, sync=FULL", ""),
        ("NORMAL", "WAL, synchronous=NORMAL", "WAL, synchronous=NORMAL", MLFLOW_WAL_NORMAL),
    ]
    for level, ours_label, theirs_label, hook in settings:
        ours, theirs = [], []
        for _ in range(reps):
            env = {**ours_env, "NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS": level}
            ours.append(run(OURS_SYNC.format(n=n_ours), env))
            if HAVE_MLFLOW:
                theirs.append(run(MLFLOW_SYNC.format(n=n_mlflow, hook=hook), {}))
        o = median_of(ours, "per_point_us")
        if theirs:
            m = median_of(theirs, "per_point_us")
            print(
                f"{level:<10} {ours_label:<26} {o:9.1f}  {theirs_label:<28} {m:10.1f}  "
                f"{m / o:10.2f}x  >= 1x"
            )
        else:
            print(f"{level:<10} {ours_label:<26} {o:9.1f}  (mlflow not installed)")


def _history_table(reps: int, ours_env: dict[str, str], n_history: int) -> None:
    print(f"\n## get_metric_history of {n_history:,} points (WAL, synchronous=NORMAL)")
    print(
        f"{'written':<34} {'chunks':>7} {'write us/pt':>12} {'first read ms':>14} "
        f"{'(CPU ms)':>9} {'later reads ms':>15}"
    )
    rows: dict[str, list[dict]] = {}
    for _ in range(reps):
        for mode in ("sync", "batch"):
            env = {**ours_env, "NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS": "NORMAL"}
            rows.setdefault(mode, []).append(run(OURS_HISTORY.format(n=n_history, mode=mode), env))
    labels = {"sync": "one point per commit (synchronous)", "batch": "one batch (buffered)"}
    for mode in ("sync", "batch"):
        results = rows[mode]
        print(
            f"{labels[mode]:<34} {median_of(results, 'chunks'):7.0f} "
            f"{median_of(results, 'write_us'):12.1f} {median_of(results, 'first_ms'):14.1f} "
            f"{median_of(results, 'first_cpu_ms'):9.1f} {median_of(results, 'later_ms'):15.1f}"
        )
    ratio = median_of(rows["sync"], "first_ms") / median_of(rows["batch"], "first_ms")
    cpu_ratio = median_of(rows["sync"], "first_cpu_ms") / median_of(rows["batch"], "first_cpu_ms")
    print(
        f"first read, synchronous / buffered: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU   "
        "target: about 1x (CPU time is steadier on a busy machine)"
    )


if __name__ == "__main__":
    main()

"""Many kernels, one store: N processes logging at once into SQLite and PostgreSQL.

    python benchmarks/bench_concurrency.py [--quick] [--procs 1,5,20,50] [--seconds 5]
        [--postgres-uri postgresql://...] [--mlflow]

Each process (benchmarks/concurrency_worker.py) opens the store, waits until all are ready,
then for --seconds repeatedly starts a run, logs 2 params, 20 x (50 points then `flush()`) and
ends the run. Prints per backend and process count: aggregate points/s and runs/s, flush
latency p50/p99 (one flush = one write transaction of 50 points), and errors (any "database is
locked" would show here). PostgreSQL is measured when --postgres-uri or
NOTEBOOK_TRACKER_TEST_POSTGRES_URI is set (each pass gets a fresh database on that server).
--mlflow adds MLflow's client (log_batch of the same 50 points) on SQLite, for comparison.

Then the reaper: a read of a store holding 10,000 (--quick: 2,000) runs of dead processes, and
how long a writer in another process waited meanwhile, against the commit before the batching.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "concurrency_worker.py"


def run_fleet(
    uri: str, procs: int, seconds: float, tool: str = "nt", extra_env: dict | None = None
) -> dict:
    """Start `procs` workers on `uri`, release them together, and sum what they report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
    env.update(extra_env or {})
    env.setdefault("PYTHONPATH", str(HERE.parent))
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), uri, str(seconds), tool],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(procs)
    ]
    for worker in workers:
        line = worker.stdout.readline()
        if line.strip() != "ready":
            _, err = worker.communicate()
            raise SystemExit(f"a worker failed to start: {line}{err[-2000:]}")
    started = time.perf_counter()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=seconds * 20 + 300)
        if worker.returncode != 0:
            raise SystemExit(f"a worker exited with {worker.returncode}: {err[-2000:]}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - started
    # Workers finish the run they are in after `seconds`: divide by the longest of them.
    elapsed = max(r["elapsed"] for r in reports)
    flushes = sorted(f for r in reports for f in r["flushes"])
    return {
        "procs": procs,
        "wall_s": wall,
        "points": sum(r["points"] for r in reports),
        "runs": sum(r["runs"] for r in reports),
        "points_per_s": sum(r["points"] for r in reports) / elapsed,
        "runs_per_s": sum(r["runs"] for r in reports) / elapsed,
        "flush_p50_ms": _pct(flushes, 0.50) * 1000,
        "flush_p99_ms": _pct(flushes, 0.99) * 1000,
        "errors": [e for r in reports for e in r["errors"]],
        "reports": reports,
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def _fresh_postgres(base: str) -> str:
    """A new empty database on the server of `base`, so passes do not see each other's runs."""
    from sqlalchemy import create_engine, text

    from notebook_tracker.store.engine import _postgres_url

    name = f"nt_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_postgres_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def _prepare(uri: str, tool: str) -> None:
    """Create the schema first, as the first notebook of a team would (20 MLflow processes
    migrating a new SQLite file at once fail; that is measured apart, not here)."""
    if tool == "mlflow":
        code = (
            "import sys, logging; logging.disable(logging.WARNING); import mlflow; "
            "mlflow.set_tracking_uri(sys.argv[1]); mlflow.MlflowClient().search_experiments()"
        )
    else:
        code = (
            "import sys, notebook_tracker as nt; nt.set_tracking_uri(sys.argv[1]); "
            "nt.get_experiment('0')"
        )
    subprocess.run([sys.executable, "-c", code, uri], check=True)


def concurrency(args: argparse.Namespace) -> None:
    backends = [("sqlite", "nt")]
    pg = args.postgres_uri or os.environ.get("NOTEBOOK_TRACKER_TEST_POSTGRES_URI")
    if pg:
        backends.append(("postgresql", "nt"))
    if args.mlflow:
        backends.append(("sqlite", "mlflow"))
    sync = args.synchronous or "FULL (default)"
    print(
        f"# many processes, one store: {args.seconds:g} s per pass, {os.cpu_count()} CPUs, "
        f"SQLite synchronous={sync}"
    )
    print(
        f"{'backend':<22}{'procs':>6}{'points/s':>12}{'runs/s':>9}{'flush p50':>11}"
        f"{'flush p99':>11}{'errors':>8}"
    )
    for backend, tool in backends:
        for procs in args.procs:
            if backend == "sqlite":
                folder = tempfile.mkdtemp(prefix="nt-conc-")
                uri = f"sqlite:///{folder}/store.db"
            else:
                uri = _fresh_postgres(pg)
            _prepare(uri, tool)
            extra = (
                {"NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS": args.synchronous}
                if args.synchronous
                else {}
            )
            result = run_fleet(uri, procs, args.seconds, tool, extra)
            label = f"{backend} ({'MLflow' if tool == 'mlflow' else 'ours'})"
            print(
                f"{label:<22}{procs:>6}{result['points_per_s']:>12,.0f}{result['runs_per_s']:>9.1f}"
                f"{result['flush_p50_ms']:>9.1f}ms{result['flush_p99_ms']:>9.1f}ms"
                f"{len(result['errors']):>8}",
                flush=True,
            )
            for error in sorted(set(result["errors"]))[:3]:
                print(f"    e.g. {error}")


READ_WITH_ORPHANS = """
import json, subprocess, sys, time, sqlite3, threading
sys.path.insert(0, sys.argv[3]) if sys.argv[3] else None
from sqlalchemy import insert
import notebook_tracker as nt
from notebook_tracker import liveness
from notebook_tracker.store.schema import runs
db, n = sys.argv[1], int(sys.argv[2])
client = nt.TrackingClient(f"sqlite:///{db}")
live = client.create_run("0")
dead = subprocess.Popen([sys.executable, "-c", "pass"]); dead.wait()
rows = [dict(run_uuid=f"{i:032x}", experiment_id=0, status="RUNNING", lifecycle_stage="active",
             owner_host=liveness.hostname(), owner_pid=dead.pid, owner_started=1,
             heartbeat_time=1) for i in range(n)]
with client.store.writer.begin() as conn:
    conn.execute(insert(runs), rows)
waits = []
stop = threading.Event()
def writer():  # another connection, as another process would: the longest wait for the lock
    c = sqlite3.connect(db, timeout=60, isolation_level=None)
    while not stop.is_set():
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE"); c.execute("COMMIT")
        waits.append(time.perf_counter() - t)
        time.sleep(0.005)
w = threading.Thread(target=writer); w.start()
time.sleep(0.05)
t = time.perf_counter()
client.get_run(live.info.run_id)
read_s = time.perf_counter() - t
wait_reaper = getattr(client.store, "wait_for_reaper", None)
if wait_reaper:
    wait_reaper()
all_s = time.perf_counter() - t
time.sleep(0.05)
stop.set(); w.join()
killed = client.search_runs(["0"], "attributes.status = 'KILLED'", max_results=1)
print(json.dumps({"read_s": read_s, "all_killed_s": all_s, "writer_max_wait_s": max(waits),
                  "some_killed": bool(killed)}))
"""


def reaper(args: argparse.Namespace) -> None:
    n = 2_000 if args.quick else 10_000
    trees = [("ours (now)", str(HERE.parent))]
    if args.before:
        trees.append(("before (--before)", args.before))
    print(f"\n# a read of a store with {n:,} runs of dead processes (SQLite)")
    print(f"{'code':<26}{'read':>10}{'all KILLED':>12}{'writer max wait':>17}")
    for label, tree in trees:
        folder = tempfile.mkdtemp(prefix="nt-reap-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")}
        env["PYTHONPATH"] = tree
        out = subprocess.run(
            [sys.executable, "-c", READ_WITH_ORPHANS, f"{folder}/store.db", str(n), tree],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{label:<26}{r['read_s'] * 1000:>8.1f}ms{r['all_killed_s'] * 1000:>10.0f}ms"
            f"{r['writer_max_wait_s'] * 1000:>15.1f}ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 5 processes, 2 s each")
    parser.add_argument("--procs", help="comma-separated process counts (default 1,5,20,50)")
    parser.add_argument("--seconds", type=float, help="logging time per pass (default 5)")
    parser.add_argument("--postgres-uri", help="a PostgreSQL server to compare with")
    parser.add_argument("--mlflow", action="store_true", help="also MLflow's client on SQLite")
    parser.add_argument("--before", help="a checkout of older code for the reaper row")
    parser.add_argument("--skip-reaper", action="store_true")
    parser.add_argument("--synchronous", help="NOTEBOOK_TRACKER_SQLITE_SYNCHRONOUS for the workers")
    args = parser.parse_args()
    default_procs = "1,5" if args.quick else "1,5,20,50"
    args.procs = [int(p) for p in (args.procs or default_procs).split(",")]
    args.seconds = args.seconds or (2.0 if args.quick else 5.0)
    concurrency(args)
    if not args.skip_reaper:
        reaper(args)


if __name__ == "__main__":
    main()

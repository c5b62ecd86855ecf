"""History of a 1,000,000-point metric for plotting, through REST (target: under 200 ms).

    python benchmarks/bench_server_history.py [--points N] [--max-points M] [--reps R] [--full]

notebook-tracker: `GET api/runs/{id}/metrics/{key}/history?max_points=1000` on the standalone
server (2 workers, SQLite), which reads the packed series and downsamples it (min/max per
bucket) on the server. The points were logged in 1,000-point flushes, as a training loop's
metric buffer writes them.

Side by side, when `mlflow` is importable: `mlflow server` (2 workers, SQLite, the same points
bulk-loaded into its tables) answering `metrics/get-history-bulk-interval` with
max_results=1000, the sampled history its UI plots. `--full` also times the full,
undownsampled history through `metrics/get-history` (25,000-point pages) on both servers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import HAVE_MLFLOW, request, start_mlflow, start_tracker  # noqa: E402

KEY = "loss"
FLUSH = 1000


def series(n: int) -> list[tuple[int, int, float]]:
    """(step, timestamp, value): a noisy decaying loss with a few spikes."""
    import numpy as np

    rng = np.random.default_rng(0)
    steps = np.arange(n)
    values = np.exp(-steps / (n / 5)) + rng.normal(0, 0.02, n)
    values[rng.integers(0, n, 20)] += 5.0
    timestamps = 1_700_000_000_000 + steps * 10
    return list(zip(steps.tolist(), timestamps.tolist(), values.tolist(), strict=True))


def load_tracker(db: Path, points: list[tuple[int, int, float]]) -> str:
    from notebook_tracker.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{db}", default_artifact_root="mlflow-artifacts:")
    run_id = store.create_run("0", "bench", 1, run_name="history").info.run_id
    for start in range(0, len(points), FLUSH):
        store.log_metric_rows((run_id, KEY, v, ts, s) for s, ts, v in points[start : start + FLUSH])
    store.reader.dispose()
    store.writer.dispose()
    return run_id


def load_mlflow(db: Path, artifacts: Path, points: list[tuple[int, int, float]]) -> str:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    run_id = store.create_run("0", "bench", 1, [], "history").info.run_id
    store.engine.dispose()
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            ((KEY, v, ts, s, run_id) for s, ts, v in points),
        )
        s, ts, v = points[-1]
        conn.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            (KEY, v, ts, s, run_id),
        )
    conn.close()
    return run_id


def timed_get(port: int, path: str, reps: int) -> tuple[float, float, dict]:
    """(first request ms, median of the next `reps` ms, last JSON answer)."""
    times = []
    body: dict = {}
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        status, raw = request(port, "GET", path)
        times.append(1000 * (time.perf_counter() - t0))
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {raw[:300]!r}")
        body = json.loads(raw)
    return times[0], statistics.median(times[1:]), body


def full_history_ms(port: int, run_id: str, expected: int) -> float:
    t0 = time.perf_counter()
    total, token = 0, None
    while True:
        params = {"run_id": run_id, "metric_key": KEY, "max_results": 25000}
        if token:
            params["page_token"] = token
        status, raw = request(
            port, "GET", "/api/2.0/mlflow/metrics/get-history?" + urlencode(params)
        )
        if status != 200:
            raise RuntimeError(f"get-history -> {status}: {raw[:300]!r}")
        page = json.loads(raw)
        total += len(page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            break
    assert total == expected, (total, expected)
    return 1000 * (time.perf_counter() - t0)


def measure(name: str, tmp: Path, args: argparse.Namespace, points: list) -> dict[str, float]:
    db, artifacts = tmp / f"{name}.db", tmp / f"{name}-artifacts"
    t0 = time.perf_counter()
    if name == "mlflow":
        run_id = load_mlflow(db, artifacts, points)
        server = start_mlflow(db, artifacts, args.workers, tmp / f"{name}.log")
        path = "/api/2.0/mlflow/metrics/get-history-bulk-interval?" + urlencode(
            {"run_ids": run_id, "metric_key": KEY, "max_results": args.max_points}
        )
    else:
        run_id = load_tracker(db, points)
        server = start_tracker(db, artifacts, args.workers, tmp / f"{name}.log")
        path = (
            f"/api/runs/{run_id}/metrics/{quote(KEY, safe='')}/history?max_points={args.max_points}"
        )
    print(f"[{name}] {len(points):,} points loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    try:
        reps = args.mlflow_reps if name == "mlflow" else args.reps
        first, median, body = timed_get(server.port, path, reps)
        returned = len(body.get("value", body.get("metrics", [])))
        result = {"first_ms": first, "median_ms": median, "returned": returned}
        if name != "mlflow":
            assert body["total"] == len(points) and body["downsampled"], body.keys()
            values = [v for v in body["value"] if v is not None]
            assert math.isclose(max(values), max(p[2] for p in points))
        if args.full:
            result["full_ms"] = full_history_ms(server.port, run_id, len(points))
    finally:
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--max-points", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--mlflow-reps", type=int, default=3, help="MLflow is slow here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="also time the full history")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow side")
    args = parser.parse_args()

    points = series(args.points)
    results = {}
    with tempfile.TemporaryDirectory(prefix="nt-bench-history-") as tmp_dir:
        tmp = Path(tmp_dir)
        results["notebook-tracker"] = measure("notebook-tracker", tmp, args, points)
        if HAVE_MLFLOW and not args.no_mlflow:
            results["mlflow"] = measure("mlflow", tmp, args, points)

    nt, ml = results["notebook-tracker"], results.get("mlflow")
    print(
        f"\nHistory of a {args.points:,}-point metric for plotting, max {args.max_points} "
        f"points, {args.workers} workers, SQLite, loopback ({os.cpu_count()} CPUs)"
    )
    rows = [
        ("points returned", "returned", "{:,.0f}"),
        ("first request ms", "first_ms", "{:,.1f}"),
        (f"median of next {args.reps} (mlflow {args.mlflow_reps}) ms", "median_ms", "{:,.1f}"),
    ]
    if args.full:
        rows.append(("full history (get-history pages) ms", "full_ms", "{:,.0f}"))
    print(f"{'':38} {'notebook-tracker':>17} {'mlflow':>12}")
    for label, key, fmt in rows:
        theirs = fmt.format(ml[key]) if ml and key in ml else "-"
        print(f"{label:38} {fmt.format(nt[key]):>17} {theirs:>12}")
    target = "met" if nt["median_ms"] < 200 else "MISSED"
    print(f"\ntarget: downsampled history under 200 ms -> {target} ({nt['median_ms']:.1f} ms)")
    if ml:
        print("(mlflow: metrics/get-history-bulk-interval, its sampled history for charts)")


if __name__ == "__main__":
    main()

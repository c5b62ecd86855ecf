"""Tracking-core figures, side by side with MLflow on the same backend (SQLite) when installed.

    python benchmarks/bench_tracking.py [--quick]

Each workload runs in a fresh subprocess per tool so imports and caches do not leak between them.
Prints one line per figure: notebook-tracker, MLflow, and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import textwrap

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None

COMMON = """
import json, os, sys, time, tempfile
d = tempfile.mkdtemp()
uri = f"sqlite:///{d}/bench.db"
"""

NT = {
    "log_metric": """
import notebook_tracker as nt
nt.set_tracking_uri(uri)
N = {n}
with nt.start_run() as run:
    lst = []
    t = time.perf_counter()
    for i in range(N):
        lst.append(i)
    append_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(N):
        nt.log_metric("loss", 0.5, step=i)
    call_s = time.perf_counter() - t
    t = time.perf_counter()
durable_s = time.perf_counter() - t  # end_run drained the buffer
assert len(nt.get_metric_history(run.info.run_id, "loss")) == N
print(json.dumps({{"per_call_us": call_s / N * 1e6, "append_us": append_s / N * 1e6,
                  "durable_after_end_s": durable_s}}))
""",
    "create_runs": """
import notebook_tracker as nt
nt.set_tracking_uri(uri)
N = {n}
t = time.perf_counter()
for r in range(N):
    with nt.start_run():
        nt.log_params({{f"p{{i}}": i for i in range(10)}})
        nt.log_metrics({{f"m{{i}}": i * 0.1 for i in range(5)}})
        nt.set_tags({{f"t{{i}}": "x" for i in range(3)}})
print(json.dumps({{"total_s": time.perf_counter() - t}}))
""",
    "search": """
import notebook_tracker as nt
from notebook_tracker.entities import Metric, Param
client = nt.TrackingClient(uri)
N = {n}
for r in range(N):
    run = client.create_run("0")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("acc", (r * 7919 % 1000) / 1000, 0, 0)],
        params=[Param("lr", str([0.1, 0.01, 0.001][r % 3])), Param("depth", str(r % 10))],
    )
nt.set_tracking_uri(uri)
nt.search_runs(filter_string="metrics.acc > 0.5", max_results=10)  # warm
times = []
for _ in range(5):
    t = time.perf_counter()
    df = nt.search_runs(filter_string="metrics.acc > 0.5 and params.lr = '0.01'",
                        order_by=["metrics.acc DESC"], max_results=100)
    times.append(time.perf_counter() - t)
assert len(df) == 100, len(df)
print(json.dumps({{"median_ms": sorted(times)[2] * 1000}}))
""",
    "history": """
import notebook_tracker as nt
client = nt.TrackingClient(uri)
N = {n}
run = client.create_run("0")
client.store.log_metric_rows((run.info.run_id, "m", float(i), 1000 + i, i) for i in range(N))
t = time.perf_counter()
h = nt.TrackingClient(uri).get_metric_history(run.info.run_id, "m")
elapsed = time.perf_counter() - t
assert len(h) == N
print(json.dumps({{"seconds": elapsed}}))
""",
}

ML = {
    "log_metric": """
import mlflow
mlflow.set_tracking_uri(uri)
N = {n}
with mlflow.start_run() as run:
    t = time.perf_counter()
    for i in range(N):
        mlflow.log_metric("loss", 0.5, step=i)
    call_s = time.perf_counter() - t
print(json.dumps({{"per_call_us": call_s / N * 1e6}}))
""",
    "create_runs": """
import mlflow
mlflow.set_tracking_uri(uri)
N = {n}
t = time.perf_counter()
for r in range(N):
    with mlflow.start_run():
        mlflow.log_params({{f"p{{i}}": i for i in range(10)}})
        mlflow.log_metrics({{f"m{{i}}": i * 0.1 for i in range(5)}})
        mlflow.set_tags({{f"t{{i}}": "x" for i in range(3)}})
print(json.dumps({{"total_s": time.perf_counter() - t}}))
""",
    "search": """
import mlflow
from mlflow.entities import Metric, Param
mlflow.set_tracking_uri(uri)
client = mlflow.MlflowClient()
N = {n}
for r in range(N):
    run = client.create_run("0")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("acc", (r * 7919 % 1000) / 1000, 0, 0)],
        params=[Param("lr", str([0.1, 0.01, 0.001][r % 3])), Param("depth", str(r % 10))],
    )
mlflow.search_runs(filter_string="metrics.acc > 0.5", max_results=10)
times = []
for _ in range(5):
    t = time.perf_counter()
    df = mlflow.search_runs(filter_string="metrics.acc > 0.5 and params.lr = '0.01'",
                            order_by=["metrics.acc DESC"], max_results=100)
    times.append(time.perf_counter() - t)
print(json.dumps({{"median_ms": sorted(times)[2] * 1000}}))
""",
    "history": """
import mlflow
from mlflow.entities import Metric
mlflow.set_tracking_uri(uri)
client = mlflow.MlflowClient()
N = {n}
run = client.create_run("0")
for start in range(0, N, 1000):
    points = [Metric("m", float(i), 1000 + i, i) for i in range(start, min(N, start + 1000))]
    client.log_batch(run.info.run_id, metrics=points)
t = time.perf_counter()
h = client.get_metric_history(run.info.run_id, "m")
print(json.dumps({{"seconds": time.perf_counter() - t}}))
""",
}


def run(code: str, n: int, timeout: float = 1800) -> dict:
    env_code = COMMON + textwrap.dedent(code).format(n=n)
    out = subprocess.run(
        [sys.executable, "-c", env_code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"MLFLOW_ALLOW_FILE_STORE": "true", **__import__("os").environ},
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def import_time(module: str) -> float:
    best = min(
        float(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    TIMED_IMPORT.format(module=module),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(3)
    )
    return best


def process_time(module: str) -> float:
    """Wall time of a whole `python -c "import MODULE"` process, best of 5."""
    import time

    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - t)
    return best


def line(name: str, ours: float, theirs: float | None, unit: str) -> None:
    if theirs is None:
        print(f"{name:<48} notebook-tracker {ours:10.3f} {unit}   (mlflow not installed)")
    else:
        print(
            f"{name:<48} notebook-tracker {ours:10.3f} {unit}   mlflow {theirs:10.3f} {unit}   "
            f"mlflow/nt = {theirs / ours:8.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads (smoke run)")
    args = parser.parse_args()
    q = args.quick
    mlflow = HAVE_MLFLOW
    print(f"# tracking core benchmarks ({'quick' if q else 'full'}; SQLite for both)")

    r = run(NT["log_metric"], 10_000 if q else 100_000)
    m = run(ML["log_metric"], 200 if q else 1000) if mlflow else None
    line("log_metric per call (100k loop)", r["per_call_us"], m and m["per_call_us"], "us")
    print(
        f"{'':<48} bare list.append {r['append_us']:.3f} us -> log_metric = "
        f"{r['per_call_us'] / r['append_us']:.1f}x append;  durable after end_run in "
        f"{r['durable_after_end_s']:.3f} s"
    )

    n = 100 if q else 1000
    r = run(NT["create_runs"], n)
    m = run(ML["create_runs"], n) if mlflow else None
    line(f"create {n} runs (10 params, 5 metrics, 3 tags)", r["total_s"], m and m["total_s"], "s")

    n = 1000 if q else 10_000
    r = run(NT["search"], n)
    m = run(ML["search"], n) if mlflow else None
    line(f"search_runs over {n} runs -> 100 rows", r["median_ms"], m and m["median_ms"], "ms")

    n = 100_000 if q else 1_000_000
    r = run(NT["history"], n)
    m = run(ML["history"], n) if mlflow else None
    line(f"get_metric_history of {n} points", r["seconds"], m and m["seconds"], "s")

    ours = import_time("notebook_tracker")
    theirs = import_time("mlflow") if mlflow else None
    line("import statement alone", ours, theirs, "s")
    ours = process_time("notebook_tracker")
    theirs = process_time("mlflow") if mlflow else None
    baseline = process_time("sys")
    line('python -c "import ..." (whole process)', ours, theirs, "s")
    print(f"{'':<48} (a bare python -c 'import sys' takes {baseline:.3f} s here)")


if __name__ == "__main__":
    main()

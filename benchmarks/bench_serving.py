"""Model-serving figures, side by side with `mlflow models serve --env-manager local`.

    python benchmarks/bench_serving.py [--quick] [--workers N] [--model sklearn|pyfunc]

The same model directory (saved once by notebook-tracker; MLflow loads it with its own
loader) is served by both, one after the other, on loopback, under the same bounded load:
a fixed number of keep-alive connections sending requests back to back. Figures:

- cold start: process start to the first successful `GET /ping` (the model is loaded by then);
- 1-row requests: requests per second and p99 latency;
- 1,000-row requests: rows per second.

Prints each figure for both servers and the ratio. MLflow is skipped if not installed.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
N_FEATURES = 4


def build_model(kind: str, path: Path) -> None:
    import numpy as np
    import pandas as pd

    import notebook_tracker.models as ntm

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, N_FEATURES)), columns=[f"f{i}" for i in range(4)])
    y = X.to_numpy() @ np.arange(1, N_FEATURES + 1) + 0.5
    if kind == "sklearn":
        from sklearn.linear_model import LinearRegression

        model = LinearRegression().fit(X, y)
        ntm.save_model(model, path, input_example=X.head(3), serialization_format="cloudpickle")
    else:
        weights = np.arange(1, N_FEATURES + 1, dtype=float)

        class Linear(ntm.PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input.to_numpy() @ weights + 0.5

        ntm.save_model(Linear(), path, input_example=X.head(3))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (Linux /proc), 0 elsewhere."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, ValueError, IndexError):
        pass
    return total


def start(cmd: list[str], port: int, log: Path) -> tuple[subprocess.Popen, float, float]:
    """Start a server; (process, seconds until its first successful /ping, CPU seconds used)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    while not ping(port):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {' '.join(cmd)}\n{log.read_text()[-2000:]}")
        if time.perf_counter() - t0 > 120:
            raise RuntimeError(f"server did not answer /ping within 120 s: {' '.join(cmd)}")
        time.sleep(0.02)
    return proc, time.perf_counter() - t0, cpu_seconds(proc.pid)


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def body_for(rows: int) -> bytes:
    import numpy as np

    data = np.random.default_rng(1).normal(size=(rows, N_FEATURES)).round(6).tolist()
    columns = [f"f{i}" for i in range(N_FEATURES)]
    return json.dumps({"dataframe_split": {"columns": columns, "data": data}}).encode()


def load(port: int, body: bytes, connections: int, requests: int) -> dict[str, float]:
    """`requests` POSTs spread over `connections` keep-alive connections, back to back."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_conn = requests // connections
    headers = {"Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for _ in range(per_conn):
            t = time.perf_counter()
            conn.request("POST", "/invocations", body, headers)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t)
            if resp.status != 200:
                errors.append(str(resp.status))
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. HTTP {errors[0]}")
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / wall,
        "p50_ms": latencies[n // 2] * 1e3,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3,
    }


def measure(name: str, cmd: list[str], port: int, args: argparse.Namespace, tmp: Path) -> dict:
    proc, cold, cold_cpu = start(cmd, port, tmp / f"{name}.log")
    try:
        one = body_for(1)
        big = body_for(1000)
        load(port, one, args.connections, 200)  # warm-up
        small = load(port, one, args.connections, args.requests)
        load(port, big, args.connections, 8)
        large = load(port, big, args.connections, args.big_requests)
    finally:
        stop(proc)
    return {
        "cold_start_s": cold,
        "cold_start_cpu_s": cold_cpu,
        "rps_1row": small["rps"],
        "p50_ms_1row": small["p50_ms"],
        "p99_ms_1row": small["p99_ms"],
        "rows_per_s_1000row": large["rps"] * 1000,
        "p99_ms_1000row": large["p99_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=("sklearn", "pyfunc"), default="sklearn")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="runs per server; best is kept")
    args = parser.parse_args()
    args.requests = 1000 if args.quick else 4000
    args.big_requests = 40 if args.quick else 200

    tmp = Path(tempfile.mkdtemp(prefix="nt-bench-serving-"))
    try:
        model_dir = tmp / "model"
        build_model(args.model, model_dir)
        results: dict[str, dict] = {}
        servers = {
            "notebook-tracker": lambda port: [
                sys.executable,
                "-m",
                "notebook_tracker.cli",
                "models",
                "serve",
                "-m",
                str(model_dir),
                "-p",
                str(port),
                "--workers",
                str(args.workers),
            ],
        }
        if HAVE_MLFLOW:
            servers["mlflow"] = lambda port: [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                str(model_dir),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "--env-manager",
                "local",
                "-w",
                str(args.workers),
            ]
        for name, cmd in servers.items():
            runs = [
                measure(name, cmd(port := free_port()), port, args, tmp) for _ in range(args.repeat)
            ]
            best = {}
            for key in runs[0]:
                lower_better = key.startswith(("cold", "p50", "p99"))
                values = [r[key] for r in runs]
                best[key] = min(values) if lower_better else max(values)
            results[name] = best
        report(results, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"load average {load:.2f} on {os.cpu_count()} CPUs; "
        f"model={args.model} workers={args.workers} connections={args.connections} "
        f"requests={args.requests} (1 row) / {args.big_requests} (1000 rows), loopback"
    )
    labels = {
        "cold_start_s": ("cold start to first /ping", "s"),
        "cold_start_cpu_s": ("  CPU used by then", "s"),
        "rps_1row": ("1-row requests per second", "req/s"),
        "p50_ms_1row": ("1-row p50 latency", "ms"),
        "p99_ms_1row": ("1-row p99 latency", "ms"),
        "rows_per_s_1000row": ("1000-row throughput", "rows/s"),
        "p99_ms_1000row": ("1000-row p99 latency", "ms"),
    }
    ours = results["notebook-tracker"]
    theirs = results.get("mlflow")
    print(f"{'figure':32} {'notebook-tracker':>18} {'mlflow':>14} {'ratio':>10}")
    for key, (label, unit) in labels.items():
        mine = ours[key]
        line = f"{label:32} {mine:>12.4g} {unit:<5}"
        if theirs:
            other = theirs[key]
            lower_better = key.startswith(("cold", "p50", "p99"))
            ratio = other / mine if lower_better else mine / other
            verdict = "better" if ratio >= 1 else "worse"
            line += f" {other:>10.4g} {unit:<5} {ratio:>6.2f}x {verdict}"
        print(line)
    if theirs:
        print("ratio: how many times better notebook-tracker is (>1 = faster)")
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()

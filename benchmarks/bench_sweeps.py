"""Sweep figures: overhead per trial (local pool and Dask), parallel speed-up, and Optuna's own
`optimize` + MLflow's `MLflowCallback` on the same objective.

    python benchmarks/bench_sweeps.py                  # everything (200 x 0.5 s: ~3 minutes)
    python benchmarks/bench_sweeps.py --trials 60      # a shorter speed-up run
    python benchmarks/bench_sweeps.py --only overhead  # overhead, dask, optuna | speedup

Overhead per trial: "start" is from the driver asking Optuna for the trial (then creating its
run and shipping it) to the trial's first line running in its worker; "end" is from the
trial's code returning to the driver having recorded it (metrics written, run ended, study
told). Pool start-up is reported on its own, once per sweep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle

sys.path.insert(0, str(Path(__file__).resolve().parent))
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def trivial(x: float) -> float:
    return (x - 0.5) ** 2


def busy(x: float, seconds: float = 0.5) -> float:
    """A CPU-bound trial body of `seconds` (a cell that computes, not one that sleeps)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return (x - 0.5) ** 2


def busy_half(x: float) -> float:
    return busy(x, 0.5)


def ms(values: list[float]) -> str:
    values = sorted(v * 1000 for v in values)
    p90 = values[int(0.9 * (len(values) - 1))]
    return f"median {statistics.median(values):6.1f} ms  p90 {p90:6.1f} ms"


def overheads(result) -> tuple[list[float], list[float]]:
    rows = [r.result for r in result.rows if r.result is not None][1:]  # first: warm-up
    return [r.started - r.asked for r in rows], [r.finished - r.ended for r in rows]


def fresh_store(folder: str) -> None:
    import notebook_tracker as nt

    nt.set_tracking_uri(f"sqlite:///{folder}/tracker.db")


def bench_overhead(n: int) -> None:
    import notebook_tracker as nt

    with tempfile.TemporaryDirectory() as folder:
        fresh_store(folder)
        t0 = time.perf_counter()
        result = nt.sweep(trivial, "x=float(0,1)", trials=n, name="o", progress=lambda r: None)
        wall = time.perf_counter() - t0
    start, end = overheads(result)
    first = result.rows[0].result
    print(f"local pool, {n} trials, parallel 1, SQLite store (wall {wall:.1f} s)")
    print(f"  start -> first line  {ms(start)}")
    print(f"  end -> recorded      {ms(end)}")
    print(f"  pool start-up (once) {(first.started - first.asked) * 1000:6.0f} ms")
    done = sorted(r.result.finished for r in result.rows if r.result is not None)
    gaps = [
        b - a for a, b in zip(done[:-1], done[1:], strict=True)
    ]  # one trial after the other (parallel 1)
    print(f"  per trial, all in    {statistics.median(gaps) * 1000:6.1f} ms (median between ends)")
    print(
        f"  sweep, all in        {(wall - (first.started - first.asked)) / (n - 1) * 1000:6.1f} ms"
        " per trial (wall less pool start-up: also opening the sweep, plots, shut-down)"
    )


def bench_dask(n: int) -> None:
    import socket

    from distributed import Client, LocalCluster

    import notebook_tracker as nt

    with tempfile.TemporaryDirectory() as folder:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = subprocess.Popen(
            [sys.executable, "-m", "notebook_tracker.cli", "server", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{folder}/server.db",
             "--artifacts-destination", f"{folder}/artifacts", "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            nt.set_tracking_uri(url)
            with (
                LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                t0 = time.perf_counter()
                result = nt.sweep(
                    trivial, "x=float(0,1)", trials=n, executor=client, name="d",
                    progress=lambda r: None,
                )  # fmt: skip
                wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait()
    start, end = overheads(result)
    print(
        f"Dask LocalCluster (2 processes), {n} trials, parallel 1, tracking server "
        f"(wall {wall:.1f} s)"
    )
    print(f"  start -> first line  {ms(start)}")
    print(f"  end -> recorded      {ms(end)}")


def bench_optuna_mlflow(n: int) -> None:
    import mlflow
    import optuna
    from optuna.integration.mlflow import MLflowCallback  # noqa: F401 - optional package

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        callback = MLflowCallback(metric_name="value")
        inside: list[float] = []

        def objective(trial):
            t = time.perf_counter()
            value = trivial(trial.suggest_float("x", 0, 1))
            inside.append(time.perf_counter() - t)
            return value

        optuna.create_study().optimize(objective, n_trials=2, callbacks=[callback])  # warm-up
        inside.clear()
        study = optuna.create_study()
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=n, callbacks=[callback])
        wall = time.perf_counter() - t0
    print(f"Optuna optimize + MLflowCallback (SQLite), {n} trials, in-process")
    print(f"  per trial, all in    {(wall - sum(inside)) / n * 1000:6.1f} ms")


def bench_speedup(n: int) -> None:
    import notebook_tracker as nt

    times = {}
    for parallel in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            fresh_store(folder)
            t0 = time.perf_counter()
            nt.sweep(
                busy_half, "x=float(0,1)", trials=n, parallel=parallel, name=f"p{parallel}",
                progress=lambda r: None,
            )  # fmt: skip
            times[parallel] = time.perf_counter() - t0
    print(f"{n} trials of a 0.5 s CPU-bound trial, local pool, {os.cpu_count()} cores")
    print(f"  --parallel 1  {times[1]:7.1f} s")
    print(f"  --parallel 2  {times[2]:7.1f} s  ({times[2] / times[1]:.2f}x the serial time)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200, help="trials of the speed-up run")
    parser.add_argument("--overhead-trials", type=int, default=60)
    parser.add_argument("--only", choices=["overhead", "dask", "optuna", "speedup"])
    args = parser.parse_args()
    os.environ.setdefault("NOTEBOOK_TRACKER_URI", "sqlite:///:memory:")
    steps = {
        "overhead": lambda: bench_overhead(args.overhead_trials),
        "dask": lambda: bench_dask(args.overhead_trials),
        "optuna": lambda: bench_optuna_mlflow(args.overhead_trials),
        "speedup": lambda: bench_speedup(args.trials),
    }
    for name, step in steps.items():
        if args.only in (None, name):
            try:
                step()
            except ImportError as error:
                print(f"{name}: skipped ({error})")


if __name__ == "__main__":
    main()

"""System metrics figures: what the sampler thread costs, as CPU time per wall-clock second.

    python benchmarks/bench_system_metrics.py [--seconds-1s 30] [--seconds-10s 120]

1. A real `SystemMetricsMonitor` logging into a SQLite store for a while at 1 s (and at MLflow's
   default 10 s): the sampler thread's own CPU time (`time.thread_time`, measured inside the
   thread from its start to its end, final sample included) divided by the wall time. The goal
   is < 1% of one core. The flusher thread that writes the points is shared with every
   `log_metric` and is not counted; its writes are a few rows per interval.
2. One sample (psutil: CPU, memory, disk, network) plus logging the averages, repeated: the CPU
   time per sample, which divided by the interval gives the steady-state share at any interval.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def run_monitor(interval: float, seconds: float, store: object, run_id: str) -> dict[str, float]:
    from notebook_tracker.system_metrics import SystemMetricsMonitor

    sampler = SystemMetricsMonitor(run_id, store, sampling_interval=interval)
    out: dict[str, float] = {}
    run = sampler._run

    def timed() -> None:
        start = time.thread_time()
        run()
        out["cpu_s"] = time.thread_time() - start

    sampler._run = timed  # type: ignore[method-assign]
    wall = time.perf_counter()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    out["wall_s"] = time.perf_counter() - wall
    out["logged"] = sampler.step
    return out


def per_sample(store: object, run_id: str, repeat: int) -> list[float]:
    from notebook_tracker.system_metrics import SystemMetricsMonitor

    sampler = SystemMetricsMonitor(run_id, store, sampling_interval=3600).start()
    costs = []
    try:
        for _ in range(repeat):
            start = time.thread_time()
            sampler._publish([sampler._sample()])
            costs.append(time.thread_time() - start)
    finally:
        sampler.stop()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-1s", type=float, default=30.0)
    parser.add_argument("--seconds-10s", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-sysmetrics-"))
    os.environ["NOTEBOOK_TRACKER_URI"] = f"sqlite:///{tmp / 'tracker.db'}"
    os.environ["NOTEBOOK_TRACKER_ARTIFACT_ROOT"] = str(tmp / "artifacts")
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.system_metrics import collectors

    client = TrackingClient()
    gpu = collectors.find_gpus()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, GPU: {gpu is not None}")
    print(f"{'interval':>9} {'wall s':>8} {'logged':>7} {'sampler CPU ms':>15} {'% of a core':>12}")
    for interval, seconds in ((1.0, args.seconds_1s), (10.0, args.seconds_10s)):
        run_id = client.create_run("0").info.run_id
        r = run_monitor(interval, seconds, client.store, run_id)
        share = r["cpu_s"] / r["wall_s"] * 100
        print(
            f"{interval:>8.0f}s {r['wall_s']:>8.1f} {r['logged']:>7.0f} "
            f"{r['cpu_s'] * 1000:>15.2f} {share:>11.4f}%"
        )

    run_id = client.create_run("0").info.run_id
    costs = per_sample(client.store, run_id, args.repeat)
    median = statistics.median(costs) * 1000
    p95 = sorted(costs)[int(len(costs) * 0.95)] * 1000
    print(
        f"one sample + logging it: median {median:.3f} ms CPU, p95 {p95:.3f} ms "
        f"({args.repeat} samples) -> {median / 100:.4f}% of a core at 10 s, "
        f"{median / 10:.4f}% at 1 s"
    )


if __name__ == "__main__":
    main()

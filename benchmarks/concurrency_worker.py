"""One of many processes logging into one store (run by bench_concurrency.py and its test).

    python concurrency_worker.py URI SECONDS [mlflow]

Opens the store, prints "ready", waits for a line on stdin (so every process starts together),
then for SECONDS: starts a run, logs 2 params, then 20 times logs 50 points (5 keys x 10
steps) and flushes, timing each flush; ends the run; repeats. Prints one JSON line: runs,
points, flush latencies (s), run ids, and the errors it met (text), then exits 0.
"""

from __future__ import annotations

import json
import sys
import time

KEYS = 5
STEPS = 10
FLUSHES_PER_RUN = 20


def main() -> None:
    uri, seconds = sys.argv[1], float(sys.argv[2])
    tool = sys.argv[3] if len(sys.argv) > 3 else "nt"
    if tool == "mlflow":
        import mlflow as lib
        from mlflow.entities import Metric

        lib.set_tracking_uri(uri)
        client = lib.MlflowClient()
    else:
        import notebook_tracker as lib

        lib.set_tracking_uri(uri)
        lib.get_experiment("0")  # open the store (and its schema check) before the start line
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    runs = points = 0
    flushes: list[float] = []
    run_ids: list[str] = []
    errors: list[str] = []
    end = time.monotonic() + seconds
    step = 0
    while time.monotonic() < end:
        try:
            run = lib.start_run()
            run_ids.append(run.info.run_id)
            lib.log_params({"worker": sys.argv[0], "batch": runs})
            for _ in range(FLUSHES_PER_RUN):
                t = time.perf_counter()
                if tool == "mlflow":
                    now = int(time.time() * 1000)
                    batch = [
                        Metric(f"m{k}", step * 0.5 + k, now, step + s)
                        for s in range(STEPS)
                        for k in range(KEYS)
                    ]
                    client.log_batch(run.info.run_id, metrics=batch)
                else:
                    for s in range(STEPS):
                        lib.log_metrics(
                            {f"m{k}": step * 0.5 + k for k in range(KEYS)}, step=step + s
                        )
                    lib.flush()
                flushes.append(time.perf_counter() - t)
                points += KEYS * STEPS
                step += STEPS
            lib.end_run()
            runs += 1
        except Exception as error:  # counted and reported: the benchmark's point is that none occur
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
            try:
                lib.end_run("FAILED")
            except Exception:
                pass
    print(
        json.dumps(
            {
                "runs": runs,
                "points": points,
                "flushes": flushes,
                "run_ids": run_ids,
                "errors": errors,
                "step": step,
                "elapsed": time.monotonic() - started,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

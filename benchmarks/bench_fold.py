"""What a read pays for latest values folded on read (PostgreSQL, store/latest_folding.py).

    python benchmarks/bench_fold.py [--postgres-uri URI] [--reps N]

A server's staged write (a request's 100 metrics, one row) leaves its latest values to be
folded into latest_metrics by the next read. This times, on a durable PostgreSQL of its own
(bench_scale's) or `--postgres-uri`, through the store as a server's handler calls it:
- `get_run` with nothing to fold (the small query every read now makes first);
- `get_run` right after 1, 8, 31 and 127 staged writes of 100 metrics to the run (127: the
  most a run's staged rows reach before a merge folds them, STAGE_ROWS - 1 per server worker);
- `search_runs` of 10 runs ordered by a metric, each run 8 staged writes behind;
- a key's history (`get_metric_history`) over 31 and 127 unmerged staged rows, on PostgreSQL and
  on SQLite: what a merge every STAGE_ROWS writes leaves a reader of a run being logged to.
MLflow has no counterpart: it writes each latest value as it is logged (bench_ingest.py
measures what that costs a write).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import pg_database, postgres_server  # noqa: E402

KEYS = 100


def _write(store: object, run_id: str, step: int) -> None:
    store.log_metric_groups(  # type: ignore[attr-defined]
        [(run_id, f"metric_{k:03d}", step + k / 100, 1_700_000_000_000 + step, step)
         for k in range(KEYS)]
    )  # fmt: skip


def _ms(fn: object, reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _history_rows(store: object, exp: str, backend: str) -> list[tuple[str, float]]:
    """A key's history over 31 and 127 unmerged staged rows of 100 keys."""
    rows = []
    for staged in (31, 127):
        run_id = store.create_run(exp, "bench", 0).info.run_id  # type: ignore[attr-defined]
        for step in range(staged):
            _write(store, run_id, step)
        read = functools.partial(store.get_metric_history, run_id, "metric_050")  # type: ignore[attr-defined]
        rows.append((f"{backend}: a key's history over {staged} staged rows", _ms(read, 30)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-uri", help="a server to create the database on")
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()

    from notebook_tracker.store.metric_staging import STAGED_RUNS
    from notebook_tracker.store.sql import SqlStore

    STAGED_RUNS.every = 10**9  # no merge: every read folds what the writes staged
    rows: list[tuple[str, float]] = []
    with postgres_server(args.postgres_uri) as (server, _), pg_database(server, "fold") as uri:
        store = SqlStore(uri)
        exp = store.create_experiment("fold")
        run_id = store.create_run(exp, "bench", 0).info.run_id
        step = 0
        _write(store, run_id, step)
        store.get_run(run_id)
        rows.append(("get_run, nothing to fold", _ms(lambda: store.get_run(run_id), 50)))
        for behind in (1, 8, 31, 127):
            times = []
            for _ in range(args.reps):
                for _ in range(behind):
                    step += 1
                    _write(store, run_id, step)
                started = time.perf_counter()
                store.get_run(run_id)
                times.append(time.perf_counter() - started)
            label = f"get_run, {behind} staged write{'s' if behind > 1 else ''} behind"
            rows.append((label, 1000 * statistics.median(times)))
        runs = [store.create_run(exp, "bench", 0).info.run_id for _ in range(10)]
        times = []
        for _ in range(args.reps):
            for _ in range(8):
                step += 1
                for rid in runs:
                    _write(store, rid, step)
            started = time.perf_counter()
            store.search_runs([exp], order_by=["metrics.metric_007 DESC"], max_results=100)
            times.append(time.perf_counter() - started)
        rows.append(
            ("search_runs, 10 runs each 8 staged writes behind", 1000 * statistics.median(times))
        )
        rows.append(
            (
                "search_runs, nothing to fold",
                _ms(lambda: store.search_runs([exp], order_by=["metrics.metric_007 DESC"]), 50),
            )
        )
        rows.extend(_history_rows(store, exp, "PostgreSQL"))
        store.writer.dispose()
        store.reader.dispose()
    with tempfile.TemporaryDirectory() as folder:
        store = SqlStore(f"sqlite:///{folder}/fold.db")
        rows.extend(_history_rows(store, store.create_experiment("fold"), "SQLite"))
        store.writer.dispose()
        store.reader.dispose()
    print(f"\nLatest values folded on read (PostgreSQL, durable), {KEYS} metrics a write, medians")
    for label, ms in rows:
        print(f"  {label:<52} {ms:8.2f} ms")


if __name__ == "__main__":
    main()

"""How close the 100,000-run DataFrame on SQLite is to what SQLite itself costs: the floor of
reading the normalized tables (runs, params, latest_metrics, tags), part by part.

    python benchmarks/bench_frame_floor.py [--quick] [--size 100000] [--reps 5]

Uses bench_scale.py's cached store of that size (built there on first use). For one page of
50,000 runs (the most a search returns per call; the frame of `size` runs reads size / 50,000
of them), each part is timed three ways:
  walk       SQLite alone visits every value the page needs and hands back one number (count and
             sums): the cost of the layout, whatever the client does
  as read    the statement our store runs, fetched as the driver gives it (SQLite builds the
             aggregated text or the row tuples)
and the whole `nt.search_runs(max_results=size)` (our DataFrame) is timed beside them. The
"floor" line is the walk of every part times the pages: no normalized read goes below it on
this machine. Medians of interleaved repetitions, CPU time of this process (less distorted by a
shared machine than wall time), wall time in brackets.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAGE = 50_000
TARGET_MS = 1000.0

_RUNS_PAGE = (
    "SELECT {columns} FROM runs WHERE +experiment_id IN ({exps}) AND lifecycle_stage = 'active' "
    "AND start_time IS NOT NULL ORDER BY start_time DESC, run_uuid ASC LIMIT {limit}"
)
_INFO = "run_uuid, experiment_id, status, artifact_uri, start_time, end_time"
_RUNS_WALK = (
    "SELECT count(*), sum(length(run_uuid) + length(artifact_uri) + length(status) "
    "+ experiment_id + start_time + coalesce(end_time, 0)) FROM ({page})"
)
_JOIN = 'FROM json_each(?) AS e JOIN {table} AS t ON t.run_uuid = e."value"'
_TEXT_WALK = 'SELECT count(*), sum(length(t."key") + length(t."value")) ' + _JOIN
_METRIC_WALK = 'SELECT count(*), sum(length(t."key") + t."value" + t.is_nan) ' + _JOIN


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one call, the collector paused as the store does for big reads."""
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        fn()
        return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
    finally:
        gc.enable()


def parts(conn: Any, exps: str) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """part -> (SQLite's walk, our statement as read) for the first page of the default order."""
    from notebook_tracker.store import sqlite_key_values as kv

    page = _RUNS_PAGE.format(columns=_INFO, exps=exps, limit=PAGE)
    ids = sorted(r[0] for r in conn.execute(page))
    bound = (json.dumps(ids),)
    text_keys = kv._KEYS_TEXT
    out: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "runs page": (
            lambda: conn.execute(_RUNS_WALK.format(page=page)).fetchone(),
            lambda: conn.execute(page).fetchall(),
        )
    }
    for table in ("params", "tags"):
        ours = kv._SQLITE_ARRAYS.format(table=table, keys=text_keys)
        out[table] = (
            lambda t=table: conn.execute(_TEXT_WALK.format(table=t), bound).fetchone(),
            lambda s=ours: conn.execute(s, bound).fetchone(),
        )
    metrics = kv._SQLITE_METRIC_TEXT.format(keys=text_keys)
    out["latest_metrics"] = (
        lambda: conn.execute(_METRIC_WALK.format(table="latest_metrics"), bound).fetchone(),
        lambda: conn.execute(metrics, bound).fetchone(),
    )
    return out


def main() -> None:
    import sqlite3

    import bench_scale

    import notebook_tracker as nt

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs, 3 repetitions")
    parser.add_argument("--size", type=int, default=100_000, help="runs in the store")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure")
    args = parser.parse_args()
    size, reps = (10_000, 3) if args.quick else (args.size, args.reps)
    bench_scale.ROOT.mkdir(parents=True, exist_ok=True)
    uri, _ = bench_scale.ensure_built("sqlite", "ours", size, None)
    nt.set_tracking_uri(uri)
    client = nt.TrackingClient(uri)
    exp_ids = [e.experiment_id for e in client.search_experiments() if e.name.startswith("scale-")]
    conn = sqlite3.connect(f"file:{uri[len('sqlite:///') :]}?mode=ro", uri=True)
    conn.execute("PRAGMA mmap_size=268435456")  # as the store's engine (engine.py)
    measured = parts(conn, ", ".join(exp_ids))
    frame_rows = min(size, bench_scale.FRAME_CAP)

    def frame() -> None:
        df = nt.search_runs(exp_ids, max_results=frame_rows)
        assert len(df) == frame_rows, len(df)

    walks: dict[str, list[tuple[float, float]]] = {name: [] for name in measured}
    reads: dict[str, list[tuple[float, float]]] = {name: [] for name in measured}
    frames: list[tuple[float, float]] = []
    frame()  # warm: imports, the store's checks, the page cache
    for fns in measured.values():
        fns[0](), fns[1]()
    for _ in range(reps):  # interleaved, so a busy moment spreads over every figure
        for name, (walk, read) in measured.items():
            walks[name].append(timed(walk))
            reads[name].append(timed(read))
        frames.append(timed(frame))

    def med(samples: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)

    pages = max(1, -(-frame_rows // PAGE))
    page_rows = min(PAGE, frame_rows)
    print(f"SQLite {sqlite3.sqlite_version}, {size:,} runs; one page of {page_rows:,} runs")
    print("(CPU ms, wall ms in brackets; the frame reads", pages, "page(s))\n")
    print("| part (one page) | SQLite walk | our statement as read | read - walk |")
    print("|---|---:|---:|---:|")
    floor = [0.0, 0.0]
    as_read = [0.0, 0.0]
    for name in measured:
        w, r = med(walks[name]), med(reads[name])
        floor = [floor[0] + w[0] * pages, floor[1] + w[1] * pages]
        as_read = [as_read[0] + r[0] * pages, as_read[1] + r[1] * pages]
        print(f"| {name} | {w[0]:.1f} ({w[1]:.1f}) | {r[0]:.1f} ({r[1]:.1f}) | {r[0] - w[0]:.1f} |")
    f = med(frames)
    print()
    print("| figure | CPU ms | wall ms | target |")
    print("|---|---:|---:|---|")
    print(f"| floor: SQLite walks, all pages | {floor[0]:.0f} | {floor[1]:.0f} | - |")
    print(f"| our statements as read, all pages | {as_read[0]:.0f} | {as_read[1]:.0f} | - |")
    print(
        f"| ours: {frame_rows:,} runs as a DataFrame | {f[0]:.0f} | {f[1]:.0f} | "
        f"< {TARGET_MS:.0f} ms at 100k |"
    )
    print(f"| ours / floor | {f[0] / floor[0]:.1f}x | {f[1] / floor[1]:.1f}x | - |")


if __name__ == "__main__":
    main()

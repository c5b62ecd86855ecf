"""The sidebar's page of runs ordered by a numeric param, on SQLite: number-aware (what the
sidebar asks for, `param_order=numbers`) beside the text order (MLflow's, the API default).

    python benchmarks/bench_param_order.py [--runs 100000] [--reps 5] [--quick]

The store (built once under /tmp/ntbench/param_order) holds `--runs` runs of one experiment,
each with params "seed" (str(i): "9" and "10" order differently as text and as numbers), "lr"
(five decimals) and "model" (text). Timed: what `GET api/runs?tags=none` does for a page
(search_run_rows and the JSON text, without Tornado): the first page (100 runs) and the
sidebar's next page (5,000 runs after them), each ordered by a param, highest first.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
import uuid
from pathlib import Path

HOME = Path("/tmp/ntbench/param_order")
T0 = 1_700_000_000_000
TARGET = 2.0  # number-aware no more than twice the text order's time


def build(runs: int) -> tuple[str, str]:
    """(store URI, experiment id) of a store of `runs` runs, built once."""
    from notebook_tracker.client import TrackingClient

    db = HOME / f"runs_{runs}.db"
    uri = f"sqlite:///{db}"
    if db.exists():
        client = TrackingClient(uri)
        return uri, client.get_experiment_by_name("params").experiment_id
    HOME.mkdir(parents=True, exist_ok=True)
    client = TrackingClient(uri)
    exp = client.create_experiment("params", str(HOME / "artifacts"))
    template = client.create_run(exp, run_name="template").info.run_id
    conn = sqlite3.connect(db)
    with conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
        row = dict(zip(cols, conn.execute("SELECT * FROM runs").fetchone(), strict=True))
        conn.execute("DELETE FROM tags WHERE run_uuid = ?", (template,))
        conn.execute("DELETE FROM runs WHERE run_uuid = ?", (template,))
        rows, params = [], []
        for i in range(runs):
            rid = uuid.uuid4().hex
            row.update(run_uuid=rid, name=f"run-{i}", status="FINISHED", start_time=T0 + i)
            row.update(end_time=T0 + i + 500, artifact_uri=f"{HOME}/artifacts/{rid}")
            rows.append(tuple(row[c] for c in cols))
            lr = ["0.1", "0.03", "0.01", "0.003", "0.001"][i % 5]
            params += [(rid, "seed", str(i)), (rid, "lr", lr), (rid, "model", f"m{i % 7}")]
        conn.executemany(f"INSERT INTO runs VALUES ({','.join('?' * len(cols))})", rows)
        conn.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?,?,?)", params)
    conn.close()
    return uri, exp


def median_ms(fn, reps: int) -> float:
    fn()  # warm: the search's statement is built and cached once per process
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="10,000 runs, 3 reps")
    args = ap.parse_args()
    runs, reps = (10_000, 3) if args.quick else (args.runs, args.reps)

    from notebook_tracker.entities import ViewType
    from notebook_tracker.store.factory import tracking_store
    from notebook_tracker.store.sql_run_rows import search_run_rows

    uri, exp = build(runs)
    store = tracking_store(uri)

    def page(key: str, numbers: bool, size: int, after_first: bool):
        order = [f"params.`{key}` DESC", "attributes.start_time DESC"]
        args = (store, [exp], "", ViewType.ACTIVE_ONLY)

        def run() -> None:
            token = None
            if after_first:
                _, token = search_run_rows(
                    *args, 100, order, None, with_tags=False, number_aware=numbers
                )
            found, _ = search_run_rows(
                *args, size, order, token, with_tags=False, number_aware=numbers
            )
            json.dumps(found)
            assert found

        return run

    print(f"SQLite, {runs:,} runs, median of {reps} (ms); shared machine unless said otherwise")
    goal = f"<= {TARGET}"
    print(f"{'page':<38} {'text order':>11} {'numbers':>9} {'ratio':>6} {'target':>7}")
    for key in ("seed", "lr"):
        for label, size, after in (
            ("first page (100)", 100, False),
            ("next page (5,000)", 5000, True),
        ):
            text = median_ms(page(key, False, size, after), reps)
            numbers = median_ms(page(key, True, size, after), reps)
            name = f"by params.{key} DESC, {label}"
            print(f"{name:<38} {text:>11.1f} {numbers:>9.1f} {numbers / text:>6.2f} {goal:>7}")
    top = search_run_rows(
        store, [exp], "", ViewType.ACTIVE_ONLY, 3, ["params.`seed` DESC"], None, number_aware=True
    )[0]
    text_top = search_run_rows(
        store, [exp], "", ViewType.ACTIVE_ONLY, 3, ["params.`seed` DESC"], None
    )[0]
    print(
        "highest seeds, numbers:",
        [r["params"]["seed"] for r in top],
        "text:",
        [r["params"]["seed"] for r in text_top],
    )


if __name__ == "__main__":
    main()

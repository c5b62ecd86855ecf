"""The sidebar's run-list requests timed on the server side, against MLflow's UI search call.

    python benchmarks/bench_sidebar.py --server-pages [--sizes 1000,10000,100000] [--reps 5]
        [--quick]

Uses bench_scale's cached SQLite stores (/tmp/ntbench/scale, built by
`python benchmarks/bench_scale.py` if missing; ours copied once, since opening a store may
migrate it). Ours: what `GET api/runs?tags=none` does for a page (the search as plain rows and
the JSON text), without Tornado. MLflow: its SqlAlchemyStore.search_runs with the same order and
page size, the runs as its SearchRuns response's JSON (what `POST
ajax-api/2.0/mlflow/runs/search`, its UI's run-list call, does, without its HTTP server).

Rows: the first page (100 runs, newest first); the sidebar's next page (5,000 runs after the
first 100); the last page (5,000 runs at the end of the list: keyset paging costs what page 1
costs, OFFSET paging costs the rows it skips); the first page sorted by a metric (a header
click on a list cut at 100,000 runs asks the server in that order).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scale  # noqa: E402

COPIES = Path("/tmp/ntbench/sidebar_pages")
NEWEST = ["attributes.start_time DESC"]
BY_ACC = ["metrics.acc DESC", "attributes.start_time DESC"]
FIRST, NEXT = 100, 5000
TARGET = 10.0  # issue 15: at least 10x MLflow at every scale


def _ours_page(uri: str) -> tuple[Any, list[str], Callable[[int, list[str], str | None], Any]]:
    """(store, the scale experiments, a page as `GET api/runs?tags=none` makes it)."""
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.store.sql_run_rows import search_run_rows

    client = TrackingClient(uri)
    exps = [e.experiment_id for e in client.search_experiments() if e.name.startswith("scale-")]

    def page(size: int, order: list[str], token: str | None) -> str | None:
        rows, nxt = search_run_rows(
            client.store, exps, "", "ACTIVE_ONLY", size, order, token, with_tags=False
        )
        json.dumps({"runs": rows, "next_page_token": nxt}, separators=(",", ":"))
        assert rows
        return nxt

    return client.store, exps, page


def ours_pages(uri: str) -> dict[str, Callable[[], Any]]:
    _, _, page = _ours_page(uri)

    def last_token() -> str | None:  # keyset tokens: walk the list once (not timed)
        token, last = page(FIRST, NEWEST, None), None
        while token:
            last = token
            token = page(NEXT, NEWEST, token)
        return last

    return _workloads(page, last_token)


def mlflow_pages(uri: str) -> dict[str, Callable[[], Any]]:
    from mlflow.protos.service_pb2 import SearchRuns
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.proto_json_utils import message_to_json

    store = SqlAlchemyStore(uri, str(bench_scale.ROOT / "artifacts"))
    exps = [e.experiment_id for e in store.search_experiments() if e.name.startswith("scale-")]

    def page(size: int, order: list[str], token: str | None) -> str | None:
        runs = store.search_runs(exps, "", 1, size, order, token)  # 1: ViewType.ACTIVE_ONLY
        response = SearchRuns.Response(next_page_token=runs.token or "")
        response.runs.extend(r.to_proto() for r in runs)
        message_to_json(response)
        assert runs
        return runs.token

    def last_token() -> str:  # MLflow's tokens are offsets: no need to walk there
        import sqlite3

        from mlflow.utils.search_utils import SearchUtils

        conn = sqlite3.connect(uri.removeprefix("sqlite:///"))
        marks = ",".join("?" * len(exps))
        (total,) = conn.execute(
            f"SELECT COUNT(*) FROM runs WHERE lifecycle_stage = 'active'"
            f" AND experiment_id IN ({marks})",
            [int(e) for e in exps],
        ).fetchone()
        conn.close()
        return SearchUtils.create_page_token(max(FIRST, total - NEXT)).decode()

    return _workloads(page, last_token)


def _workloads(
    page: Callable[[int, list[str], str | None], str | None],
    last_token: Callable[[], str | None],
) -> dict[str, Any]:
    after_first = page(FIRST, NEWEST, None)
    last = last_token()
    return {
        "first page (100)": lambda: page(FIRST, NEWEST, None),
        "next page (5,000)": lambda: page(NEXT, NEWEST, after_first),
        "last page (5,000)": lambda: page(NEXT, NEWEST, last),
        "first page by acc (100)": lambda: page(FIRST, BY_ACC, None),
    }


def _median_ms(fn: Callable[[], Any], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _ours_copy(size: int) -> str:
    uri, _ = bench_scale.ensure_built("sqlite", "ours", size, None)
    source = Path(uri.removeprefix("sqlite:///"))
    COPIES.mkdir(parents=True, exist_ok=True)
    copy = COPIES / source.name
    if not copy.exists() or copy.stat().st_mtime < source.stat().st_mtime:
        shutil.copyfile(source, copy)
    return f"sqlite:///{copy}"


def main(sizes: list[int], reps: int) -> None:
    print("Sidebar run-list pages, server side (SQLite; medians of", reps, "reps, ms)")
    print(f"{'runs':>8}  {'request':<24} {'ours':>9} {'MLflow':>9} {'ratio':>7}  target")
    for size in sizes:
        ours = ours_pages(_ours_copy(size))
        mlflow_uri, _ = bench_scale.ensure_built("sqlite", "mlflow", size, None)
        theirs = mlflow_pages(mlflow_uri)
        for name, fn in ours.items():
            a = _median_ms(fn, reps)
            b = _median_ms(theirs[name], reps)
            ok = "met" if b / a >= TARGET else "NOT met"
            print(
                f"{size:>8,}  {name:<24} {a:>9.1f} {b:>9.1f} {b / a:>6.1f}x  >={TARGET:.0f}x {ok}"
            )


COUNT_FILTERS = ("", "metrics.acc > 0.5", "params.lr = '0.01'")


def _timed_count(store: Any, exps: list[str], flt: str, reps: int) -> tuple[float, Any]:
    from notebook_tracker.store.sql_run_count import count_runs

    found: list[Any] = []
    ms = _median_ms(lambda: found.append(count_runs(store, exps, flt, "ACTIVE_ONLY")), reps)
    return ms, found[-1]


def count_main(sizes: list[int], reps: int) -> None:
    """The run list's count (`api/runs?count=true`): ours only, MLflow's API has no count (its
    UI shows none; a client would page through every run)."""
    from notebook_tracker.store.sql_run_count import DEFAULT_BUDGET_S

    print(f"Sidebar run count, server side (SQLite; medians of {reps} reps, ms; counts stop at")
    print(f"1,000,000 and give up after {DEFAULT_BUDGET_S:.0f} s). Target: no slower than the")
    print("next page of 5,000, which it runs beside.")
    print(f"{'runs':>9}  {'filter':<28} {'count':>10} {'ms':>9} {'next page':>10}  target")
    for size in sizes:
        store, exps, page = _ours_page(_ours_copy(size))
        after_first = page(FIRST, NEWEST, None)
        page_ms = _median_ms(lambda p=page, t=after_first: p(NEXT, NEWEST, t), reps)
        for flt in COUNT_FILTERS:
            ms, (n, exact) = _timed_count(store, exps, flt, reps)
            shown = "gave up" if n is None else f"{'' if exact else '>'}{n:,}"
            ok = "met" if ms <= page_ms else "NOT met"
            label = flt or "(none)"
            print(f"{size:>9,}  {label:<28} {shown:>10} {ms:>9.1f} {page_ms:>10.1f}  {ok}")

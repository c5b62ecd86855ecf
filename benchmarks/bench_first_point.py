"""The first point from a fresh process, durable: ours beside MLflow's, end to end and by stage.

    python benchmarks/bench_first_point.py [--quick] [--reps N] [--before PATH] [--server]

End to end: the wall time of a new interpreter running
`import notebook_tracker as nt; nt.start_run(); nt.log_metric("x", 1); nt.flush()` (and
MLflow's `import mlflow; mlflow.start_run(); mlflow.log_metric("x", 1)`, which is synchronous),
minus a bare `python -c pass`, on a store that exists already (the usual case: a notebook's
second run) and on a new one. Medians of --reps (default 7; --quick: 3) interleaved passes.
--before PATH adds the same figures for an older checkout (a `git worktree`). --server adds a
third store: a tracking server on loopback (ours, and `mlflow server` for MLflow's client;
2 workers each, SQLite), the first point of a team's notebook.

By stage (ours, existing store): the import of notebook_tracker, opening the store on the
first-write path (sqlite3 connect, schema revision), create_run, the rest of start_run, and
log_metric + flush, each timed inside one process. SQLAlchemy is not imported before the first
point is durable (sqlite_first_write.py); it opens in a background thread after it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
TARGET_MS = 100.0

OURS = (
    "import sys, notebook_tracker as nt; nt.set_tracking_uri(sys.argv[1]); nt.start_run(); "
    "nt.log_metric('x', 1); nt.flush()"
)
MLFLOW = (
    "import sys, logging; logging.disable(logging.WARNING); import mlflow; "
    "mlflow.set_tracking_uri(sys.argv[1]); mlflow.start_run(); mlflow.log_metric('x', 1)"
)
TIMED = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, usage.ru_utime + usage.ru_stime)
"""

STAGES = r"""
import json, sys, time
T = time.perf_counter
marks = []
t0 = T()
def mark(name):
    marks.append((name, T()))
import notebook_tracker as nt; mark("import notebook_tracker")
import notebook_tracker.fluent; mark("import the fluent API (client, buffer)")
from notebook_tracker.store import sqlite_first_write as fw
mark("import the first-write path (sqlite3)")
timed = {}
def wrap(owner, name, label):
    original = getattr(owner, name)
    def timer(*a, **k):
        t = T()
        try:
            return original(*a, **k)
        finally:
            timed[label] = timed.get(label, 0.0) + T() - t
    setattr(owner, name, timer)
wrap(fw.FirstWriteStore, "open", "open: sqlite3 connect + schema revision")
wrap(fw.FirstWriteStore, "create_run", "create_run (run, owner, tags)")
nt.set_tracking_uri(sys.argv[1])
t = T(); run = nt.start_run(); start_s = T() - t
t = T(); nt.log_metric("x", 1); nt.flush(); flush_s = T() - t
total = T() - t0
rows = []
prev = t0
for name, at in marks:
    rows.append((name, at - prev)); prev = at
rows += list(timed.items())
rows.append(("start_run, the rest (imports, tags, buffer)", start_s - sum(timed.values())))
rows.append(("log_metric + flush (durable)", flush_s))
print(json.dumps({"rows": rows, "total": total}))
"""


def _env(tree: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOOK_TRACKER_", "MLFLOW_"))
    }
    env["PYTHONPATH"] = tree
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install has its bytecode cached
    return env


def _wall(code: str, uri: str, tree: str) -> tuple[float, float]:
    """(wall, CPU) seconds of a new interpreter running `code`: CPU time is the figure that a
    machine shared with other work disturbs least."""
    out = subprocess.run(
        [sys.executable, "-c", TIMED, sys.executable, "-c", code, uri],
        capture_output=True,
        text=True,
        env=_env(tree),
        check=True,
        cwd=tempfile.gettempdir(),  # `python -c` imports from its cwd first: not a checkout's
    ).stdout
    wall, cpu = out.split()
    return float(wall), float(cpu)


def _new_uri(kind: str) -> str:
    return f"sqlite:///{tempfile.mkdtemp(prefix=f'nt-first-{kind}-')}/store.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 passes instead of 7")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--before", help="an older checkout to compare with")
    parser.add_argument("--server", action="store_true", help="also through tracking servers")
    args = parser.parse_args()
    with contextlib.ExitStack() as servers:
        server_uris = _start_servers(servers) if args.server else {}
        _measure(args, server_uris)


def _start_servers(stack: contextlib.ExitStack) -> dict[str, str]:
    """{"ours": URI, "mlflow": URI} of tracking servers on loopback, stopped with `stack`."""
    sys.path.insert(0, str(HERE))
    from bench_server import start_mlflow, start_tracker

    folder = Path(tempfile.mkdtemp(prefix="nt-first-servers-"))
    starters = [("ours", start_tracker)] + ([("mlflow", start_mlflow)] if HAVE_MLFLOW else [])
    uris = {}
    for name, start in starters:
        server = start(folder / f"{name}.db", folder / f"{name}-artifacts", 2, folder / name)
        stack.callback(server.stop)
        uris[name] = f"http://127.0.0.1:{server.port}"
    return uris


def _measure(args: argparse.Namespace, server_uris: dict[str, str]) -> None:
    reps = args.reps or (3 if args.quick else 7)
    ours = str(HERE.parent)
    trees = [("ours", ours)] + ([("ours before", args.before)] if args.before else [])
    existing = {name: _new_uri(name) for name, _ in trees}
    ml_existing = _new_uri("mlflow")
    for name, tree in trees:  # warm: bytecode compiled, store created
        _wall(OURS, existing[name], tree)
        if server_uris:
            _wall(OURS, server_uris["ours"], tree)
    if HAVE_MLFLOW:
        _wall(MLFLOW, ml_existing, ours)
        if "mlflow" in server_uris:
            _wall(MLFLOW, server_uris["mlflow"], ours)

    samples: dict[str, list[tuple[float, float]]] = {}

    def add(key: str, code: str, uri: str, tree: str, bare: tuple[float, float]) -> None:
        wall, cpu = _wall(code, uri, tree)
        samples.setdefault(key, []).append((wall - bare[0], cpu - bare[1]))

    for _ in range(reps):
        bare = _wall("pass", "", ours)
        samples.setdefault("bare", []).append(bare)
        for name, tree in trees:
            add(f"{name} existing", OURS, existing[name], tree, bare)
            add(f"{name} new", OURS, _new_uri(name), tree, bare)
            if server_uris:
                add(f"{name} server", OURS, server_uris["ours"], tree, bare)
        if HAVE_MLFLOW:
            add("mlflow existing", MLFLOW, ml_existing, ours, bare)
            add("mlflow new", MLFLOW, _new_uri("mlflow"), ours, bare)
            if "mlflow" in server_uris:
                add("mlflow server", MLFLOW, server_uris["mlflow"], ours, bare)
    wall = {k: statistics.median(w for w, _ in v) * 1000 for k, v in samples.items()}
    cpu = {k: statistics.median(c for _, c in v) * 1000 for k, v in samples.items()}
    stores = ("existing", "new") + (("server",) if server_uris else ())
    _print_totals(reps, [name for name, _ in trees], stores, wall, cpu)
    _print_stages(reps, existing["ours"], ours)


def _print_totals(
    reps: int,
    names: list[str],
    stores: tuple[str, ...],
    wall: dict[str, float],
    cpu: dict[str, float],
) -> None:
    print(f"# first durable point from a fresh process, ms (median of {reps}; a bare python,")
    print(f"#   {wall['bare']:.0f} ms wall / {cpu['bare']:.0f} ms CPU, subtracted; target <")
    print(f"#   {TARGET_MS:.0f} ms; {os.cpu_count()} CPUs; CPU time is steadier on a busy machine)")
    header = f"{'store':<10}{'code':<13}{'':<6}{'ours':>8}{'MLflow':>9}{'MLflow/ours':>13}"
    print(f"{header}{'target':>8}")
    for store in stores:
        for name in names:
            for label, med in (("wall", wall), ("CPU", cpu)):
                o = med[f"{name} {store}"]
                m = med.get(f"mlflow {store}")
                ml = f"{m:9.0f}" if m is not None else f"{'-':>9}"
                ratio = f"{m / o:12.1f}x" if m is not None else f"{'-':>13}"
                ok = "met" if o < TARGET_MS else "missed"
                print(f"{store:<10}{name:<13}{label:<6}{o:8.0f}{ml}{ratio}{ok:>8}")


def _print_stages(reps: int, uri: str, ours: str) -> None:
    print("\n# by stage, ours, existing store (one process; median of passes)")
    stage_runs = []
    for _ in range(reps):
        out = subprocess.run(
            [sys.executable, "-c", STAGES, uri],
            capture_output=True,
            text=True,
            env=_env(ours),
            check=True,
            cwd=tempfile.gettempdir(),
        ).stdout
        stage_runs.append(json.loads(out))
    names = [name for name, _ in stage_runs[0]["rows"]]
    for i, name in enumerate(names):
        value = statistics.median(r["rows"][i][1] for r in stage_runs) * 1000
        print(f"{name:<44}{value:8.1f} ms")
    total = statistics.median(r["total"] for r in stage_runs) * 1000
    print(f"{'total inside the process':<44}{total:8.1f} ms")


if __name__ == "__main__":
    main()

"""Magics figures: what `%%track_run` adds to a cell, and `log_metric` inside a tracked cell.

    python benchmarks/bench_magics.py [--cells 200] [--points 100000]

1. Overhead on an empty cell: a notebook of N `%%track_run` cells holding `pass` against the
   same N cells untracked, each executed with nbclient in a real kernel. The time per cell is
   the kernel's own (iopub busy -> execute_reply, recorded by nbclient); the figure is the
   difference of the medians. Run in a git repository with a dirty file and with the notebook
   path known (`JPY_SESSION_NAME`), as in JupyterLab, so git, lineage and the notebook snapshot
   are all paid for; a second line shows the same without git and notebook path.
2. `nt.log_metric` in a loop of stepped points inside a tracked cell (with its live card, and
   with --quiet), outside any magic, and a bare `list.append` loop, all in the same kernel.
   With MLflow installed, `mlflow.log_metric` per call on SQLite is printed beside it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def cell_times_ms(nb: nbformat.NotebookNode, skip: int) -> list[float]:
    times = []
    for cell in nb.cells[skip:]:
        ex = cell.metadata.get("execution", {})
        if "iopub.status.busy" in ex and "shell.execute_reply" in ex:
            delta = _ts(ex["shell.execute_reply"]) - _ts(ex["iopub.status.busy"])
            times.append(delta.total_seconds() * 1000)
    return times


def run_notebook(
    cells: list[str], folder: Path, name: str, env: dict[str, str]
) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = folder / name
    nbformat.write(nb, path)
    old = dict(os.environ)
    os.environ.update(env)
    if "JPY_SESSION_NAME" in env:
        os.environ["JPY_SESSION_NAME"] = str(path)
    try:
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def make_repo(folder: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)

    git("init", "-q")
    (folder / "train.py").write_text("print('model')\n")
    git("add", "train.py")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "init")
    (folder / "train.py").write_text("print('model v2')\n")  # dirty: a diff to store


def overhead(n_cells: int, realistic: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if realistic:
            make_repo(folder)
        env = {"NOTEBOOK_TRACKER_URI": str(folder / ".notebook_tracker")}
        if realistic:
            env["JPY_SESSION_NAME"] = "set per notebook"
        setup = ["%load_ext notebook_tracker\nimport notebook_tracker as nt"]
        plain = run_notebook(setup + ["pass"] * n_cells, folder, "plain.ipynb", env)
        tracked = run_notebook(
            setup + ["%%track_run\npass"] * n_cells, folder, "tracked.ipynb", env
        )
        quiet = run_notebook(
            setup + ["%%track_run --quiet\npass"] * n_cells, folder, "quiet.ipynb", env
        )
    base = statistics.median(cell_times_ms(plain, 1))
    return {
        "plain_ms": base,
        "tracked_added_ms": statistics.median(cell_times_ms(tracked, 1)) - base,
        "quiet_added_ms": statistics.median(cell_times_ms(quiet, 1)) - base,
    }


LOOP = """
import time
N = {n}
def loop_append():
    xs = []
    t = time.perf_counter()
    for i in range(N):
        xs.append(("loss", 0.5, i))
    return (time.perf_counter() - t) / N * 1e9
def loop_log():
    t = time.perf_counter()
    for i in range(N):
        nt.log_metric("loss", 0.5, step=i)
    return (time.perf_counter() - t) / N * 1e9
"""


def log_metric_loop(n_points: int) -> dict[str, float]:
    cells = [
        "%load_ext notebook_tracker\nimport notebook_tracker as nt, json\n"
        + LOOP.format(n=n_points),
        "append_ns = min(loop_append() for _ in range(3))",
        "with nt.start_run():\n    outside_ns = min(loop_log() for _ in range(3))",
        "%%track_run --quiet\ntracked_quiet_ns = min(loop_log() for _ in range(3))",
        "%%track_run\ntracked_card_ns = min(loop_log() for _ in range(3))",
        "print(json.dumps(dict(append_ns=append_ns, outside_ns=outside_ns, "
        "tracked_quiet_ns=tracked_quiet_ns, tracked_card_ns=tracked_card_ns)))",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        nb = run_notebook(
            cells, folder, "loop.ipynb", {"NOTEBOOK_TRACKER_URI": str(folder / "store")}
        )
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return json.loads(text)


MLFLOW_LOOP = """
import json, sys, tempfile, time, mlflow
d = tempfile.mkdtemp()
mlflow.set_tracking_uri(f"sqlite:///{d}/m.db")
N = int(sys.argv[1])
with mlflow.start_run():
    t = time.perf_counter()
    for i in range(N):
        mlflow.log_metric("loss", 0.5, step=i)
    print(json.dumps({"mlflow_ns": (time.perf_counter() - t) / N * 1e9}))
"""


def mlflow_loop(n_points: int) -> float | None:
    if importlib.util.find_spec("mlflow") is None:
        return None
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_LOOP, str(n_points)], capture_output=True, text=True
    )
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["mlflow_ns"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()

    print(f"%%track_run on an empty cell ({args.cells} cells, nbclient, median kernel time)")
    for realistic, label in ((True, "git repo + notebook path known"), (False, "bare folder")):
        o = overhead(args.cells, realistic)
        print(
            f"  {label:32s} untracked {o['plain_ms']:6.2f} ms | added: with card "
            f"{o['tracked_added_ms']:6.2f} ms, --quiet {o['quiet_added_ms']:6.2f} ms "
            "(target < 30 ms)"
        )
    loop = log_metric_loop(args.points)
    append = loop["append_ns"]
    print(f"nt.log_metric loop of {args.points} stepped points (ns per call)")
    print(f"  bare list.append                {append:8.0f}")
    for key, label in (
        ("outside_ns", "outside the magic (start_run)"),
        ("tracked_quiet_ns", "in %%track_run --quiet"),
        ("tracked_card_ns", "in %%track_run, live card"),
    ):
        print(f"  {label:31s} {loop[key]:8.0f}  ({loop[key] / append:4.1f}x append; target < 20x)")
    ml = mlflow_loop(2000)
    if ml is not None:
        print(
            f"  mlflow.log_metric (SQLite, 2000 calls) {ml:8.0f}  "
            f"({ml / loop['tracked_card_ns']:.0f}x ours)"
        )


if __name__ == "__main__":
    main()

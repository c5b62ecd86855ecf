"""`notebook-tracker sweep PROJECT -e ENTRY --space ... --trials N`: an MLproject entry point
run over a search space, each trial a child run of the sweep run; bad input is one line."""

from __future__ import annotations

import os
import subprocess
import sys

from notebook_tracker.client import TrackingClient
from notebook_tracker.sweeps.trial import TAG_STATE, TAG_TRIAL

MLPROJECT = """name: quad
entry_points:
  fit:
    parameters:
      x: {type: float, default: 1.0}
      k: {type: int, default: 1}
    command: "python fit.py {x} {k}"
"""
FIT = """import sys
import notebook_tracker as nt
x, k = float(sys.argv[1]), int(sys.argv[2])
nt.log_metric("loss", (x - 1.5) ** 2 + k)
"""


def cli(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", "sweep", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("NOTEBOOK_TRACKER_")},
             "NOTEBOOK_TRACKER_URI": f"sqlite:///{tmp_path / 'tracker.db'}"},
    )  # fmt: skip


def test_an_entry_point_swept_from_the_shell(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "MLproject").write_text(MLPROJECT)
    (project / "fit.py").write_text(FIT)
    done = cli(
        tmp_path, "proj", "-e", "fit", "--space", "x=float(0,3) k=int(0,1)", "--trials", "3",
        "--parallel", "2", "--name", "quad", "--env-manager", "local",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "best trial" in done.stdout and "loss=" in done.stdout
    client = TrackingClient(f"sqlite:///{tmp_path / 'tracker.db'}")
    (sweep,) = client.search_runs(["0"], "tags.`notebook_tracker.sweep.name` = 'quad'")
    trials = client.search_runs(["0"], f"tags.mlflow.parentRunId = '{sweep.info.run_id}'")
    assert sorted(int(r.data.tags[TAG_TRIAL]) for r in trials) == [0, 1, 2]
    for run in trials:
        x, k = float(run.data.params["x"]), int(run.data.params["k"])
        assert run.data.metrics["loss"] == (x - 1.5) ** 2 + k
        assert run.data.tags[TAG_STATE] == "COMPLETE" and run.info.status == "FINISHED"
    assert sweep.data.tags["notebook_tracker.sweep.metric"] == "loss"  # the only one it logged


def test_a_bad_space_is_one_error_line(tmp_path):
    done = cli(tmp_path, "proj", "--space", "x=float(3,0)")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: x=float(3,0): the low bound must be below the high bound."
    )

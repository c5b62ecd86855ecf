"""examples/notebooks/parallel_sweep.ipynb runs top to bottom in a real kernel and leaves the
sweep it promises: 12 Ridge trials under one sweep run, the second cell continuing the first."""

from __future__ import annotations

import pytest
from test_example_notebooks import all_runs, displays, execute

from notebook_tracker.sweeps.trial import TAG_STATE


def test_parallel_sweep_notebook_sweeps_and_continues(tmp_path):
    pytest.importorskip(
        "sklearn", reason="the example needs scikit-learn: pip install '.[examples]'"
    )
    nb, client = execute("parallel_sweep.ipynb", tmp_path)
    runs = all_runs(client)
    sweep = runs["ridge-alpha"]
    trials = [
        r for r in runs.values() if r.data.tags.get("mlflow.parentRunId") == sweep.info.run_id
    ]
    assert len(trials) == 12 and all(r.data.tags[TAG_STATE] == "COMPLETE" for r in trials)
    best = min(trials, key=lambda r: r.data.metrics["rmse"])
    assert sweep.data.tags["sweep.best.run_id"] == best.info.run_id
    assert sweep.data.metrics["best.rmse"] == best.data.metrics["rmse"]
    tables = [d["text/html"] for d in displays(nb) if "nt-sweep-table" in d.get("text/html", "")]
    assert len(tables) == 2 and all("data-status='FINISHED'" in t for t in tables)
    assert "data-done='12'" in tables[1]

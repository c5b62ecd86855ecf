"""`%%sweep` in real kernels driven by nbclient: the cell body is the trial, the notebook's
names travel to the trials, the table fills in place, Ctrl-C stops the sweep, and a fresh
kernel (a restart) continues it from the store."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from notebook_tracker.client import TrackingClient
from notebook_tracker.sweeps.trial import TAG_STATE, TAG_TRIAL

SETUP = (
    "%load_ext notebook_tracker\nimport numpy as np\n"
    "data = np.arange(10.0)\nshared = []\n"
    "def helper(v):\n    return v * 2\n"
)
GRID = (
    '%%sweep grid-a --space "x=int(0,2) opt=choice(a,b)" --method grid --parallel 2 '
    "--metric score --mode max\n"
    "shared.append(x)\n"
    "n_seen = len(shared)\n"
    "score = float(helper(x) + data[1] + (1 if opt == 'b' else 0))\n"
)
AUTO = '%%sweep auto --space "x=float(0,1)" --trials 3 --seed 1\nloss = (x - 0.3) ** 2\n'
AFTER = "print('SHARED', len(shared))"
STOPPER = (
    '%%sweep stopper --space "x=int(0,5)" --method grid\n'
    "import os, signal, time\n"
    "if x == 2:\n    os.kill(os.getppid(), signal.SIGINT)\n    time.sleep(30)\n"
    "y = float(x)\n"
)
BAD = '%%sweep --space "x=gaussian(0,1)"\ny = 1\n'
RESUME = "%load_ext notebook_tracker"
RESUMED = '%%sweep stopper --space "x=int(0,5)" --method grid --resume\ny = float(x)\n'


def run_notebook(folder: Path, sources: list[tuple[str, bool]], uri: str) -> nbformat.NotebookNode:
    cells = []
    for source, raises in sources:
        cell = nbformat.v4.new_code_cell(source)
        if raises:
            cell.metadata["tags"] = ["raises-exception"]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    saved = os.environ.get("NOTEBOOK_TRACKER_URI")
    os.environ["NOTEBOOK_TRACKER_URI"] = uri
    try:
        NotebookClient(
            nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
    finally:
        if saved is None:
            os.environ.pop("NOTEBOOK_TRACKER_URI", None)
        else:
            os.environ["NOTEBOOK_TRACKER_URI"] = saved
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep-kernel")
    uri = f"sqlite:///{folder / 'store' / 'tracker.db'}"
    first = run_notebook(
        folder,
        [
            (SETUP, False),
            (GRID, False),
            (AUTO, False),
            (AFTER, False),
            (STOPPER, True),
            (BAD, True),
        ],
        uri,
    )
    client = TrackingClient(uri)
    stopped = sweep_runs(client)["stopper"]
    before = (stopped.info.status, trials_of(client, stopped.info.run_id))
    second = run_notebook(folder, [(RESUME, False), (RESUMED, False)], uri)
    return first, second, client, before


def sweep_runs(client):
    runs = client.search_runs(["0"], "tags.`notebook_tracker.sweep` = 'true'")
    return {r.info.run_name: r for r in runs}


def trials_of(client, run_id):
    runs = client.search_runs(["0"], f"tags.mlflow.parentRunId = '{run_id}'")
    return sorted(runs, key=lambda r: int(r.data.tags[TAG_TRIAL]))


def html_outputs(cell):
    return [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]


def test_the_cell_body_is_the_trial_with_the_notebooks_names_and_isolated_namespaces(executed):
    first, _, client, _ = executed
    trials = trials_of(client, sweep_runs(client)["grid-a"].info.run_id)
    assert len(trials) == 6 and all(r.info.status == "FINISHED" for r in trials)
    for run in trials:
        x, opt = int(run.data.params["x"]), run.data.params["opt"]
        assert run.data.metrics["score"] == 2 * x + 1.0 + (1 if opt == "b" else 0)
        assert run.data.metrics["n_seen"] == 1, "each trial starts from the notebook's namespace"
    assert "SHARED 0" in first.cells[3].outputs[0]["text"], "trials never change the notebook"


def test_the_progress_table_ends_filled_with_the_best_highlighted(executed):
    first, _, client, _ = executed
    (table,) = html_outputs(first.cells[1])
    assert "data-status='FINISHED'" in table and "data-done='6'" in table
    assert table.count("<tr class='nt-best'>") == 1
    best = sweep_runs(client)["grid-a"].data.tags
    assert f"best: trial {best['sweep.best.trial']} = 6" in table
    printed = "".join(o.get("text", "") for o in first.cells[1].outputs)
    assert "best trial" in printed and "score=6" in printed


def test_the_only_auto_logged_metric_is_the_objective(executed):
    _, _, client, _ = executed
    auto = sweep_runs(client)["auto"]
    assert auto.data.tags["notebook_tracker.sweep.metric"] == "loss"
    trials = trials_of(client, auto.info.run_id)
    assert len(trials) == 3
    assert auto.data.metrics["best.loss"] == min(r.data.metrics["loss"] for r in trials)


def test_interrupt_kills_the_sweep_and_a_new_kernel_resumes_it(executed):
    first, second, client, (status_before, trials_before) = executed
    assert status_before == "KILLED"
    killed = [r for r in trials_before if r.data.tags[TAG_STATE] == "KILLED"]
    assert [r.data.params["x"] for r in killed] == ["2"]
    assert killed[0].info.status == "KILLED"
    errors = [o for o in first.cells[4].outputs if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "KeyboardInterrupt"
    after = trials_of(client, sweep_runs(client)["stopper"].info.run_id)
    complete = [r for r in after if r.data.tags[TAG_STATE] == "COMPLETE"]
    assert sorted(int(r.data.params["x"]) for r in complete) == [0, 1, 2, 3, 4, 5]
    kept = {r.info.run_id for r in trials_before if r.data.tags[TAG_STATE] == "COMPLETE"}
    assert kept <= {r.info.run_id for r in complete}, "completed trials are not run again"
    assert sweep_runs(client)["stopper"].info.status == "FINISHED"
    (table,) = html_outputs(second.cells[1])
    assert "data-done='6'" in table and "data-status='FINISHED'" in table


def test_a_bad_space_is_a_one_line_usage_error(executed):
    first, _, _, _ = executed
    shown = "".join(o.get("text", "") for o in first.cells[5].outputs)
    assert "UsageError: %%sweep: x=gaussian(0,1): unknown kind 'gaussian'" in shown
    assert "Traceback" not in shown

"""`%%track_run` in a real kernel, driven by nbclient: one notebook, one kernel, many checks.

The notebook's cells exercise every auto-logging rule and its edge cases, failures, interrupts,
nesting, the live card, figures under the inline backend and rich outputs; the tests read the
executed notebook and the store the kernel wrote to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType

WIDGET = "application/vnd.jupyter.widget-view+json"

CELLS: list[tuple[str, str, bool]] = [
    # (key, source, raises)
    (
        "setup",
        "%load_ext notebook_tracker\nimport notebook_tracker as nt\nimport numpy as np",
        False,
    ),
    (
        "rules",
        "%%track_run rules\n"
        "lr = 0.01\n"
        "opt = 'adam'\n"
        "epochs = 3\n"
        "epochs = 5\n"
        "n = 10\n"
        "n += 2\n"
        "tmp = 0.5\n"
        "del tmp\n"
        "acc = np.float64(0.8125)\n"
        "flag = np.bool_(True)\n"
        "scores = {'f1': float(0.5), 'auc': np.float32(0.75)}\n"
        "for step in range(5):\n"
        "    nt.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "print('trained')\n",
        False,
    ),
    ("function_only", "%%track_run function_only\ndef train():\n    return 0.5\n", False),
    ("no_assignments", "%%track_run no_assignments\nprint('nothing to log')\n", False),
    (
        "boom",
        "%%track_run boom\nfor i in range(3):\n    nt.log_metric('m', i, step=i)\n"
        "raise ValueError('bad batch')\n",
        True,
    ),
    (
        "kill",
        "%%track_run kill\nimport os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(10)\n",
        True,
    ),
    ("alive", "alive = 'still here'\nalive", False),
    ("parent", "parent = nt.start_run(run_name='parent')", False),
    ("child1", "%%track_run child1\nk = 1", False),
    ("child2", "%%track_run child2 --nested\nk = 2", False),
    ("end_parent", "nt.end_run()", False),
    (
        "live",
        "%%track_run live\nimport gc, time\n"
        "from notebook_tracker.widgets.run_card import RunCard\n"
        "for i in range(40):\n    nt.log_metric('loss', 1 / (i + 1), step=i)\n"
        "time.sleep(1.5)\n"
        "me = nt.active_run().info.run_id\n"
        "cards = [o for o in gc.get_objects() if isinstance(o, RunCard)]\n"
        "card = [c for c in cards if c.state.run_id == me][0]\n"
        "print('LIVE', json.dumps({'value': card.html}))\n"
        "del card, cards\n",
        False,
    ),
    (
        "fresh_import",
        "%%track_run fresh_import\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
        False,
    ),
    ("inline", "%matplotlib inline\nimport matplotlib.pyplot as plt", False),
    ("figure", "%%track_run figure\nplt.plot([1, 3, 2])\nplt.title('curve')\nplt.show()", False),
    (
        "table",
        "%%track_run table\nimport pandas as pd\nframe = pd.DataFrame({'a': [1, 2]})\n"
        "display(frame)\nframe",
        False,
    ),
    ("threshold", "threshold = 0.5", False),
    (
        "edit_notebook",
        "import json, os\npath = os.environ['JPY_SESSION_NAME']\nnb = json.load(open(path))\n"
        "for c in nb['cells']:\n"
        "    if ''.join(c['source']) == 'threshold = 0.5':\n"
        "        c['source'] = 'threshold = 0.9  # edited after it ran'\n"
        "json.dump(nb, open(path, 'w'))\n",
        False,
    ),
    ("hidden", "%%track_run hidden\nhits = threshold * 2", False),
    ("compare", "%compare_runs --last 3", False),
    ("runs", "%runs", False),
]
INDEX = {key: i for i, (key, _, _) in enumerate(CELLS)}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The executed notebook and a client on the store its kernel wrote to."""
    folder = tmp_path_factory.mktemp("kernel")
    cells = []
    for _, source, raises in CELLS:
        cell = nbformat.v4.new_code_cell(source.replace("import gc,", "import json, gc,"))
        if raises:
            cell.metadata["tags"] = ["raises-exception"]
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    path = folder / "experiment.ipynb"
    nbformat.write(nb, path)
    uri = f"sqlite:///{folder / 'store' / 'tracker.db'}"
    env = {"NOTEBOOK_TRACKER_URI": uri, "JPY_SESSION_NAME": str(path)}
    saved = {k: os.environ.get(k) for k in (*env, "NOTEBOOK_TRACKER_ARTIFACT_ROOT")}
    os.environ.update(env)
    os.environ.pop("NOTEBOOK_TRACKER_ARTIFACT_ROOT", None)
    try:
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    client = TrackingClient(uri)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments(ViewType.ALL)], max_results=1000
    )
    by_name = {r.info.run_name: r for r in runs}
    return nb, client, by_name, folder


def outputs(nb, key):
    return nb.cells[INDEX[key]].outputs


def artifact_paths(client, run_id, path=None):
    out = []
    for info in client.list_artifacts(run_id, path):
        out.extend(artifact_paths(client, run_id, info.path) if info.is_dir else [info.path])
    return sorted(out)


def read(client, run, path):
    from notebook_tracker.artifacts import get_artifact_repository

    with get_artifact_repository(run.info.artifact_uri).open_read(path) as f:
        return f.read().decode()


def test_every_auto_logging_rule_in_a_real_kernel(executed):
    _, client, runs, _ = executed
    run = runs["rules"]
    assert run.info.status == "FINISHED"
    # literals are params; reassigned literal keeps its last value
    assert run.data.params == {"lr": "0.01", "opt": "adam", "epochs": "5"}
    # augmented assignment, numpy scalar and dict of numbers are metrics; np.bool_ and deleted
    # names are not; the stepped loss went through the fast path
    assert run.data.metrics == pytest.approx(
        {"n": 12.0, "acc": 0.8125, "scores.f1": 0.5, "scores.auc": 0.75, "loss": 0.2}
    )
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(5))
    assert read(client, run, "outputs/stdout.txt") == "trained\n"


def test_cells_with_only_a_function_or_no_assignment_log_no_params_or_metrics(executed):
    _, _, runs, _ = executed
    for name in ("function_only", "no_assignments"):
        assert runs[name].info.status == "FINISHED"
        assert runs[name].data.params == {} and runs[name].data.metrics == {}


def test_exception_fails_the_run_and_the_cell_once(executed):
    nb, client, runs, _ = executed
    run = runs["boom"]
    assert run.info.status == "FAILED"
    assert run.data.tags["notebook_tracker.error"] == "ValueError: bad batch"
    assert len(client.get_metric_history(run.info.run_id, "m")) == 3
    assert "ValueError: bad batch" in read(client, run, "outputs/traceback.txt")
    errors = [o for o in outputs(nb, "boom") if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "bad batch")]


def test_interrupt_kills_the_run_and_the_kernel_goes_on(executed):
    nb, _, runs, _ = executed
    assert runs["kill"].info.status == "KILLED"
    assert [o.ename for o in outputs(nb, "kill") if o.output_type == "error"] == [
        "KeyboardInterrupt"
    ]
    result = [o for o in outputs(nb, "alive") if o.output_type == "execute_result"]
    assert result[0]["data"]["text/plain"] == "'still here'"


def test_tracked_cells_inside_a_started_run_are_its_children(executed):
    _, _, runs, _ = executed
    parent = runs["parent"]
    assert runs["child1"].parent_run_id == parent.info.run_id
    assert runs["child2"].parent_run_id == parent.info.run_id
    assert parent.info.status == "FINISHED"


def test_card_updates_live_while_the_cell_runs(executed):
    nb, _, _, _ = executed
    text = "".join(o.get("text", "") for o in outputs(nb, "live") if o.output_type == "stream")
    live = json.loads(text.split("LIVE ", 1)[1])["value"]
    assert 'data-status="RUNNING"' in live
    assert 'data-key="loss"' in live and "<svg" in live  # stepped metric with a sparkline


def test_final_card_replaces_the_live_one_and_shows_without_widgets(executed):
    nb, _, runs, _ = executed
    (card,) = [o for o in outputs(nb, "rules") if o.output_type == "display_data"]
    data = card["data"]
    assert WIDGET not in data and "image/png" in data
    run_id = runs["rules"].info.run_id
    assert f'data-run-id="{run_id}"' in data["text/html"]
    assert 'data-status="FINISHED"' in data["text/html"]
    assert "data:image/png;base64," in data["text/html"]  # sparklines survive SVG stripping
    assert f"#notebook-tracker:run={run_id}" in data["text/html"]
    assert "loss" in data["text/plain"] and "lr=0.01" in data["text/plain"]
    (failed,) = [o for o in outputs(nb, "boom") if o.output_type == "display_data"]
    assert 'data-status="FAILED"' in failed["data"]["text/html"]
    assert "ValueError: bad batch" in failed["data"]["text/plain"]


def test_inline_figures_and_rich_outputs_are_logged(executed):
    nb, client, runs, _ = executed
    fresh = artifact_paths(client, runs["fresh_import"].info.run_id)
    assert [p for p in fresh if p.startswith("figures/")] == ["figures/figure-1.png"]
    figure_run = artifact_paths(client, runs["figure"].info.run_id)
    assert [p for p in figure_run if p.startswith("figures/")] == ["figures/figure-1.png"]
    table = artifact_paths(client, runs["table"].info.run_id)
    assert "outputs/display-001.html" in table and "outputs/result.html" in table
    shown = [o for o in outputs(nb, "figure") if o.output_type == "display_data"]
    assert any("image/png" in o["data"] and WIDGET not in o["data"] for o in shown)


def test_context_tags_notebook_snapshot_and_lineage(executed):
    _, client, runs, folder = executed
    run = runs["rules"]
    tags = run.data.tags
    assert Path(tags["notebook_tracker.notebook_path"]).name == "experiment.ipynb"
    assert tags["notebook_tracker.execution_count"] == "2"
    assert tags["notebook_tracker.hidden_state"] == "false"
    paths = artifact_paths(client, run.info.run_id)
    assert "notebook/snapshot.ipynb" in paths and "cell/source.py" in paths
    replay = read(client, runs["hidden"], "lineage/replay.py")
    assert "get_ipython().run_line_magic('load_ext', 'notebook_tracker')" in replay
    assert "lr = 0.01" in replay and "run_cell_magic" not in replay


def test_hidden_state_is_flagged_when_a_cell_changed_after_it_ran(executed):
    nb, client, runs, _ = executed
    run = runs["hidden"]
    assert run.data.tags["notebook_tracker.hidden_state"] == "true"
    report = json.loads(read(client, run, "lineage/report.json"))
    assert "threshold" in report["stale_names"]
    (card,) = [o for o in outputs(nb, "hidden") if o.output_type == "display_data"]
    assert "hidden state" in card["data"]["text/html"]


def test_compare_runs_widget_has_state_and_static_fallbacks(executed):
    nb, _, runs, _ = executed
    (out,) = [o for o in outputs(nb, "compare") if o.output_type == "display_data"]
    data = out["data"]
    assert WIDGET in data and "image/png" in data
    assert "nt-runs-table" in data["text/html"] and "data:image/png;base64," in data["text/html"]
    for name in ("hidden", "table", "figure"):
        assert runs[name].info.run_id in data["text/html"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert state[data[WIDGET]["model_id"]]["model_name"] == "VBoxModel"
    assert any(m["model_name"] == "TabModel" for m in state.values())


def test_runs_magic_shows_a_table(executed):
    nb, _, runs, _ = executed
    (out,) = [o for o in outputs(nb, "runs") if o.output_type == "execute_result"]
    html = out["data"]["text/html"]
    assert html.index(runs["hidden"].info.run_id) < html.index(runs["rules"].info.run_id)


def test_nbconvert_without_widget_state_shows_the_static_table_cards_and_plots(executed):
    import copy

    from nbconvert import HTMLExporter

    nb = copy.deepcopy(executed[0])
    nb.metadata.pop("widgets", None)  # JupyterLab does not save widget state by default
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "nt-runs-table" in html  # the comparison's table
    assert html.count('class="nt-run-card"') >= 10  # every tracked cell's card
    assert "data:image/png;base64," in html

"""`%run_project` and `%rerun` in a real kernel, and rerun of a run a real `%%track_run` made."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from projects_helpers import cli, use_project_cache, write_files

from notebook_tracker.client import TrackingClient

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _store(tracking_uri, tmp_path, monkeypatch):
    use_project_cache(tmp_path, monkeypatch)


def _execute(cells: list[str], folder: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path = folder / "session.ipynb"
    nbformat.write(nb, path)
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_run_project_magic_shows_output_in_the_cell_and_nests_under_a_tracked_cell(tmp_path):
    project = write_files(
        tmp_path / "proj",
        {
            "MLproject": "entry_points:\n  main:\n    parameters: {n: {type: int, default: 1}}\n"
            "    command: 'python step.py {n}'\n",
            "step.py": "import sys\nprint('step got', sys.argv[1])\n",
        },
    )
    nb = _execute(
        [
            "%load_ext notebook_tracker",
            f"result = %run_project {project} -P n=7 --run-name from-magic\nresult.status",
            f"%run_project {project} -P n=oops",
            f"%%track_run outer --quiet\n%run_project {project} -P n=2 --run-name inner",
        ],
        tmp_path,
    )
    assert "step got 7" in _text(nb.cells[1])
    assert "'FINISHED'" in _text(nb.cells[1])
    assert "n (int): expected an int, got 'oops'" in _text(nb.cells[2])
    runs = {r.info.run_name: r for r in TrackingClient().search_runs(["0"])}
    assert runs["from-magic"].data.params == {"n": "7"}
    assert runs["inner"].data.tags["mlflow.parentRunId"] == runs["outer"].info.run_id


def test_real_track_run_run_can_be_rerun_with_an_override_from_cli_and_magic(tmp_path):
    nb = _execute(
        [
            "%load_ext notebook_tracker",
            "base = 10",
            "%%track_run train --quiet\nlr = 0.1\nloss = base * lr\nprint('loss is', loss)",
        ],
        tmp_path,
    )
    assert "loss is 1.0" in _text(nb.cells[2])
    client = TrackingClient()
    [original] = [r for r in client.search_runs(["0"]) if r.info.run_name == "train"]
    assert original.data.params["lr"] == "0.1"

    result = cli("rerun", original.info.run_id, "-P", "lr=0.5")
    assert result.returncode == 0, result.stderr
    assert "loss is 5.0" in result.stdout
    reruns = [
        r
        for r in client.search_runs(["0"])
        if r.data.tags.get("notebook_tracker.rerun_of") == original.info.run_id
    ]
    assert len(reruns) == 1
    assert reruns[0].data.params["lr"] == "0.5"
    assert reruns[0].data.metrics["loss"] == 5.0

    nb = _execute(
        [
            "%load_ext notebook_tracker",
            f"%rerun {original.info.run_id} -P lr=0.3",
            "x = 1",
            "%rerun -l 1",  # without a run id, IPython's own %rerun
        ],
        tmp_path,
    )
    assert "loss is 3.0" in _text(nb.cells[1])
    reruns = [
        r
        for r in client.search_runs(["0"])
        if r.data.tags.get("notebook_tracker.rerun_of") == original.info.run_id
    ]
    assert sorted(r.data.metrics["loss"] for r in reruns) == [3.0, 5.0]

"""Notebooks as entry points: parameters injected, executed headless, tracked cells as children."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from projects_helpers import artifact_text, cli, only_run, use_project_cache, write_files

from notebook_tracker.client import TrackingClient
from notebook_tracker.projects.notebooks import INJECTED_TAG

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _store(tracking_uri, tmp_path, monkeypatch):
    use_project_cache(tmp_path, monkeypatch)


def _notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, metadata={"tags": tags}) for src, tags in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


MLPROJECT = """
entry_points:
  analysis:
    notebook: analysis.ipynb
    parameters:
      alpha: {type: float, default: 0.1}
      label: {type: string, default: base}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_files(tmp_path / "proj", {"MLproject": MLPROJECT, "data.txt": "3\n"})
    _notebook(
        root / "analysis.ipynb",
        [
            ("import notebook_tracker as nt", []),
            ("alpha = 0.5\nepochs = 2\nlabel = 'default'", ["parameters"]),
            (
                "n = int(open('data.txt').read())\n"
                "print(f'alpha={alpha!r} epochs={epochs!r} label={label!r} n={n}')\n"
                "nt.log_metric('loss', alpha * epochs * n)",
                [],
            ),
        ],
    )
    return root


def test_notebook_runs_with_injected_typed_parameters_and_is_saved(project):
    result = cli("run", str(project), "-e", "analysis", "-P", "alpha=0.25", "-P", "epochs=4")
    assert result.returncode == 0, result.stderr
    # Declared params (with their MLproject defaults) take their declared type; undeclared
    # ones the type of the notebook's own default.
    assert "alpha=0.25 epochs=4 label='base' n=3" in result.stdout
    client = TrackingClient()
    run = only_run(client)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.25", "epochs": "4", "label": "base"}
    logged = {k: v for k, v in run.data.metrics.items() if not k.startswith("system/")}
    assert logged == {"loss": 3.0}  # logged by the notebook, into the project run
    assert run.data.tags["notebook_tracker.project.notebook"] == "analysis.ipynb"
    assert run.data.tags["mlflow.project.entryPoint"] == "analysis"
    executed = nbformat.reads(
        artifact_text(client, run.info.run_id, "notebook/executed.ipynb"), as_version=4
    )
    tags = [c.metadata.get("tags", []) for c in executed.cells]
    assert tags.index([INJECTED_TAG]) == tags.index(["parameters"]) + 1
    injected = executed.cells[tags.index([INJECTED_TAG])].source
    assert "alpha = 0.25" in injected and "epochs = 4" in injected and "label = 'base'" in injected
    last = executed.cells[-1]
    assert any("alpha=0.25" in o.get("text", "") for o in last.outputs)
    assert "alpha=0.25" in artifact_text(client, run.info.run_id, "outputs/stdout.txt")


def test_notebook_file_without_declaration_takes_parameters_typed_by_its_defaults(project):
    result = cli("run", str(project), "-e", "analysis.ipynb", "-P", "alpha=1", "-P", "label=7")
    assert result.returncode == 0, result.stderr
    assert "alpha=1.0 epochs=2 label='7' n=3" in result.stdout
    assert only_run().data.params == {"alpha": "1", "label": "7"}


def test_notebook_parameter_of_the_wrong_type_is_an_error_before_running(project):
    result = cli("run", str(project), "-e", "analysis", "-P", "epochs=many")
    assert result.returncode == 1
    assert "'epochs' is an int in the notebook; got 'many'" in result.stderr
    result = cli("run", str(project), "-e", "analysis", "-P", "alpha=abc")
    assert result.returncode == 1
    assert "alpha (float): expected a float, got 'abc'" in result.stderr
    assert list(TrackingClient().search_runs(["0"])) == []


def test_failing_notebook_marks_the_run_failed_and_keeps_the_executed_copy(tmp_path):
    root = tmp_path / "nb"
    _notebook(
        root / "broken.ipynb", [("print('before')", []), ("1 / 0", []), ("print('never')", [])]
    )
    result = cli("run", str(root), "-e", "broken.ipynb")
    assert result.returncode == 1
    assert "ZeroDivisionError" in result.stderr
    client = TrackingClient()
    run = only_run(client)
    assert run.info.status == "FAILED"
    executed = json.loads(artifact_text(client, run.info.run_id, "notebook/executed.ipynb"))
    assert executed["cells"][1]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert executed["cells"][2]["outputs"] == []


def test_tracked_cells_of_a_notebook_entry_point_become_child_runs(tmp_path):
    root = tmp_path / "nb"
    _notebook(
        root / "tracked.ipynb",
        [
            ("%load_ext notebook_tracker", []),
            ("base = 1.0", ["parameters"]),
            ("%%track_run first --quiet\nlr = 0.1\nscore = base + lr", []),
            ("%%track_run second --quiet\nlr = 0.2\nscore = base + lr", []),
        ],
    )
    result = cli("run", str(root), "-e", "tracked.ipynb", "-P", "base=2")
    assert result.returncode == 0, result.stderr
    client = TrackingClient()
    runs = {r.info.run_name: r for r in client.search_runs(["0"])}
    parent = next(r for r in runs.values() if r.data.tags.get("mlflow.source.type") == "PROJECT")
    assert parent.info.status == "FINISHED"
    assert parent.data.params == {"base": "2"}
    for name, lr in (("first", 0.1), ("second", 0.2)):
        child = runs[name]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.params["lr"] == str(lr)
        assert child.data.metrics["score"] == pytest.approx(2.0 + lr)
        assert child.info.status == "FINISHED"

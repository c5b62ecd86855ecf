"""`notebook-tracker rerun`: re-execute the code behind a %%track_run run with params changed.

The fixture runs are built by hand with the client, with the artifacts and tags `%%track_run`
writes (see the shared contracts), so these tests do not depend on the magics.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from projects_helpers import artifact_text, cli, use_project_cache

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Param
from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.rerun import rerun

pytestmark = pytest.mark.slow

REPLAY = """# Replay of the kernel's executions before the tracked cell
# In[1]:
import math

# In[2]:
base = 10
lr = 0.5
"""
CELL = """lr = 0.1
epochs = 3
loss = base * lr / epochs
print(f"loss={loss:.4f} lr={lr} epochs={epochs}")
"""


@pytest.fixture(autouse=True)
def _store(tracking_uri, tmp_path, monkeypatch):
    use_project_cache(tmp_path, monkeypatch)


def _tracked_run(
    notebook_dir: Path, artifacts: dict[str, str], params: dict[str, str] | None = None
) -> str:
    """A run as `%%track_run` records it: NOTEBOOK tags, auto-logged params, code artifacts."""
    client = TrackingClient()
    experiment_id = client.create_experiment("notebooks")
    notebook = notebook_dir / "train.ipynb"
    run = client.create_run(
        experiment_id,
        run_name="train",
        tags={
            "mlflow.source.type": "NOTEBOOK",
            "mlflow.source.name": str(notebook),
            "notebook_tracker.notebook_path": str(notebook),
            "notebook_tracker.cell_id": "cell-train",
            "notebook_tracker.execution_count": "3",
            "notebook_tracker.hidden_state": "false",
        },
    )
    run_id = run.info.run_id
    params = {"lr": "0.1", "epochs": "3"} if params is None else params
    client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
    for path, text in artifacts.items():
        client.log_text(run_id, text, path)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _reruns(original: str):
    client = TrackingClient()
    experiment = client.get_experiment_by_name("notebooks")
    return [
        r
        for r in client.search_runs([experiment.experiment_id])
        if r.data.tags.get("notebook_tracker.rerun_of") == original
    ]


def test_rerun_overrides_params_and_logs_a_new_linked_run(tmp_path):
    original = _tracked_run(tmp_path, {"lineage/replay.py": REPLAY, "cell/source.py": CELL})
    result = cli("rerun", original, "-P", "lr=0.25")
    assert result.returncode == 0, result.stderr
    assert "loss=0.8333 lr=0.25 epochs=3" in result.stdout
    [new] = _reruns(original)
    assert new.info.status == "FINISHED"
    assert new.info.run_id != original
    assert new.info.run_name == "train-rerun"
    assert new.data.params == {"lr": "0.25", "epochs": "3"}
    assert new.data.metrics["loss"] == pytest.approx(10 * 0.25 / 3)
    tags = new.data.tags
    assert tags["notebook_tracker.rerun.mode"] == "lineage"
    assert json.loads(tags["notebook_tracker.rerun.overrides"]) == {"lr": "0.25"}
    assert tags["notebook_tracker.cell_id"] == "cell-train"
    client = TrackingClient()
    assert "lr=0.25" in artifact_text(client, new.info.run_id, "outputs/stdout.txt")
    executed = nbformat.reads(
        artifact_text(client, new.info.run_id, "notebook/executed.ipynb"), as_version=4
    )
    assert any("lr = 0.25" in c.source for c in executed.cells)
    # The original run is untouched.
    assert client.get_run(original).data.params["lr"] == "0.1"


def test_rerun_without_overrides_reproduces_the_run(tmp_path):
    original = _tracked_run(tmp_path, {"lineage/replay.py": REPLAY, "cell/source.py": CELL})
    result = rerun(original, output=lambda s, t: None)
    assert result.succeeded
    [new] = _reruns(original)
    assert new.data.params == {"lr": "0.1", "epochs": "3"}
    assert new.data.metrics["loss"] == pytest.approx(10 * 0.1 / 3)


def test_rerun_from_the_notebook_snapshot_runs_cells_up_to_the_tracked_one(tmp_path):
    nb = nbformat.v4.new_notebook()
    cells = [
        ("setup", "%load_ext notebook_tracker\nbase = 4"),
        ("earlier", "%%track_run warmup\nwarm = 1"),
        ("cell-train", "%%track_run train -m loss\nlr = 0.1\nepochs = 3\nloss = base * lr * warm"),
        ("after", "raise RuntimeError('cells after the tracked one must not run')"),
    ]
    nb.cells = [nbformat.v4.new_code_cell(src) for _, src in cells]
    for cell, (cell_id, _) in zip(nb.cells, cells, strict=True):
        cell["id"] = cell_id
    original = _tracked_run(tmp_path, {"notebook/snapshot.ipynb": nbformat.writes(nb)})
    result = cli("rerun", original, "-P", "epochs=5", "-P", "lr=1")
    assert result.returncode == 0, result.stderr
    [new] = _reruns(original)
    assert new.info.status == "FINISHED"
    assert new.data.tags["notebook_tracker.rerun.mode"] == "snapshot"
    assert new.data.params == {"lr": "1.0", "epochs": "5"}  # lr keeps the code's float type
    assert new.data.metrics["loss"] == pytest.approx(4.0)


def test_run_without_replayable_code_is_a_clear_error(tmp_path):
    original = _tracked_run(tmp_path, {"outputs/stdout.txt": "hello"})
    result = cli("rerun", original)
    assert result.returncode == 1
    assert f"Run {original} has no replayable code" in result.stderr
    assert "Traceback" not in result.stderr
    assert _reruns(original) == []


def test_override_of_a_name_the_code_does_not_assign_lists_what_can_be(tmp_path):
    original = _tracked_run(tmp_path, {"lineage/replay.py": REPLAY, "cell/source.py": CELL})
    with pytest.raises(ProjectError) as info:
        rerun(original, ["batch_size=32"])
    message = info.value.message
    assert "Cannot override batch_size" in message
    assert "epochs, lr" in message
    assert _reruns(original) == []


def test_override_with_a_value_of_the_wrong_type_is_an_error(tmp_path):
    original = _tracked_run(tmp_path, {"lineage/replay.py": REPLAY, "cell/source.py": CELL})
    with pytest.raises(ProjectError, match="'epochs' is an int in the notebook; got 'many'"):
        rerun(original, ["epochs=many"])


def test_unknown_run_is_a_clear_error():
    result = cli("rerun", "0" * 32)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_failing_replayed_code_marks_the_rerun_failed(tmp_path):
    cell = "lr = 0.1\nif lr > 0.5:\n    raise ValueError('lr too large')\n"
    original = _tracked_run(tmp_path, {"lineage/replay.py": "", "cell/source.py": cell})
    result = cli("rerun", original, "-P", "lr=0.9")
    assert result.returncode == 1
    assert "lr too large" in result.stderr
    [new] = _reruns(original)
    assert new.info.status == "FAILED"


def test_rerun_runs_in_the_notebook_folder_so_relative_paths_work(tmp_path):
    (tmp_path / "data.txt").write_text("21\n")
    cell = "scale = 2\ntotal = int(open('data.txt').read()) * scale\n"
    original = _tracked_run(
        tmp_path, {"lineage/replay.py": "", "cell/source.py": cell}, params={"scale": "2"}
    )
    result = rerun(original, {"scale": 3}, output=lambda s, t: None)
    assert result.succeeded
    [new] = _reruns(original)
    assert new.data.metrics["total"] == 63

"""The example notebooks run top to bottom in a real kernel, and log what they promise."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from helpers import execute_in_kernel

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import ViewType

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"


def execute(name: str, folder: Path) -> tuple[nbformat.NotebookNode, TrackingClient]:
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    uri = f"sqlite:///{folder / 'store' / 'tracker.db'}"
    execute_in_kernel(nb, folder, uri)
    return nb, TrackingClient(uri)


def all_runs(client: TrackingClient) -> dict:
    ids = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
    return {r.info.run_name: r for r in client.search_runs(ids, max_results=1000)}


def displays(nb: nbformat.NotebookNode) -> list[dict]:
    return [
        o["data"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "display_data"
    ]


def test_quickstart_runs_and_tracks_its_cells(tmp_path):
    nb, client = execute("quickstart.ipynb", tmp_path)
    runs = all_runs(client)
    assert {"baseline", "faster", "residuals"} <= set(runs)
    baseline = runs["baseline"]
    assert baseline.data.params == {"lr": "0.05", "epochs": "60"}
    assert {"mse", "weights.w0", "train_mse"} <= set(baseline.data.metrics)
    residual_files = [f.path for f in client.list_artifacts(runs["residuals"].info.run_id)]
    assert "figures" in residual_files and "files" in residual_files
    cards = [o for o in displays(nb) if "nt-run-card" in o.get("text/html", "")]
    assert len(cards) == 3 and all('data-status="FINISHED"' in c["text/html"] for c in cards)
    (comparison,) = [o for o in displays(nb) if WIDGET in o]
    assert "nt-runs-table" in comparison["text/html"]
    # The prose compares the two trainings, not the two newest runs.
    compared = comparison["text/html"]
    assert "baseline" in compared and "faster" in compared and "residuals" not in compared
    assert [p.name for p in tmp_path.iterdir()] == ["store"], "the example left files behind"


def test_sweep_runs_and_nests_its_runs(tmp_path):
    pytest.importorskip("sklearn", reason="the sweep needs scikit-learn: pip install '.[examples]'")
    nb, client = execute("sweep.ipynb", tmp_path)
    runs = all_runs(client)
    parent = runs["ridge-sweep"]
    children = [r for r in runs.values() if r.parent_run_id == parent.info.run_id]
    assert len(children) == 5  # three alpha cells, the fine grid and the plot
    alphas = sorted(r.data.params.get("alpha") for r in children if "alpha" in r.data.params)
    assert alphas == ["0.01", "0.1", "1.0"]
    grid = runs["fine-grid"]
    assert len([r for r in runs.values() if r.parent_run_id == grid.info.run_id]) == 9
    assert "best_rmse" in grid.data.metrics
    assert len(client.get_metric_history(grid.info.run_id, "rmse_by_alpha")) == 9
    assert any(WIDGET in o for o in displays(nb))  # the comparison
    assert "scores" not in grid.data.params  # a list filled by the cell is not a setting
    assert [p.name for p in tmp_path.iterdir()] == ["store"], "the example left files behind"

"""Framework autologging inside `%%track_run`, in a real kernel driven by nbclient."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")
xgb = pytest.importorskip("xgboost")

import nbformat  # noqa: E402
from helpers import execute_in_kernel  # noqa: E402

from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.entities import ViewType  # noqa: E402

CELLS = [
    # names imported before any tracked cell are the hooked ones (%load_ext arms the hooks)
    "%load_ext notebook_tracker\n"
    "import numpy as np\n"
    "from sklearn.linear_model import Ridge\n"
    "from sklearn.metrics import r2_score\n"
    "rng = np.random.default_rng(0)\n"
    "X = rng.normal(size=(120, 3)); y = X @ [1.0, 2.0, -1.0] + rng.normal(size=120)\n"
    "X_train, X_test, y_train, y_test = X[:90], X[90:], y[:90], y[90:]",
    "%%track_run fit\nmodel = Ridge(alpha=0.7).fit(X_train, y_train)\n"
    "r2 = r2_score(y_test, model.predict(X_test))\nassert model.alpha == 0.7",
    "%%track_run off --no-autolog\nm2 = Ridge(alpha=0.9).fit(X_train, y_train)",
    "m3 = Ridge(alpha=0.3).fit(X_train, y_train)  # outside a tracked cell: no run",
    "%%track_run boost\nimport xgboost as xgb\n"
    "d = xgb.DMatrix(X_train, y_train)\n"
    "booster = xgb.train({'max_depth': 2}, d, 7, evals=[(d, 'train')], verbose_eval=False)",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fw-kernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    uri = f"sqlite:///{folder / 'store' / 'tracker.db'}"
    execute_in_kernel(nb, folder, uri, timeout=180)
    client = TrackingClient(uri)
    found = client.search_runs(
        [e.experiment_id for e in client.search_experiments(ViewType.ALL)], max_results=100
    )
    return client, {r.info.run_name: r for r in found}


def test_a_tracked_cell_logs_what_scikit_learn_knows_into_its_run(runs) -> None:  # type: ignore[no-untyped-def]
    client, by_name = runs
    run = by_name["fit"]
    assert run.data.params["alpha"] == "0.7"
    assert run.data.tags["estimator_name"] == "Ridge"
    assert "training_r2_score" in run.data.metrics
    assert run.data.metrics["r2_score_X_test"] == pytest.approx(run.data.metrics["r2"])
    assert "model" in [f.path for f in client.list_artifacts(run.info.run_id)]


def test_no_autolog_and_untracked_cells_log_no_framework_data(runs) -> None:  # type: ignore[no-untyped-def]
    client, by_name = runs
    assert "alpha" not in by_name["off"].data.params
    paths = [f.path for f in client.list_artifacts(by_name["off"].info.run_id)]
    assert "model" not in paths  # the cell's own records (cell/, ...) remain
    assert "training_r2_score" not in by_name["off"].data.metrics
    assert set(by_name) == {"fit", "off", "boost"}  # the untracked fit started no run


def test_a_framework_imported_inside_the_cell_logs_per_iteration_metrics(runs) -> None:  # type: ignore[no-untyped-def]
    client, by_name = runs
    run = by_name["boost"]
    assert run.data.params["max_depth"] == "2"
    history = client.get_metric_history(run.info.run_id, "train-rmse")
    assert list(history.steps) == list(range(7))

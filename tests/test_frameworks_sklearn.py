"""scikit-learn autologging through the fluent API, on real fits of small synthetic data."""

from __future__ import annotations

import csv
import io
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import metrics  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import notebook_tracker as nt  # noqa: E402
from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.frameworks import autolog, common, patching, sklearn_eval  # noqa: E402


@pytest.fixture
def auto(tracking_uri):  # type: ignore[no-untyped-def]
    autolog.reset_for_tests()
    sklearn_eval.reset()
    yield TrackingClient(tracking_uri)
    autolog.reset_for_tests()
    sklearn_eval.reset()


def _only_run(client):  # type: ignore[no-untyped-def]
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return runs


def _artifacts(client, run_id, path=None):  # type: ignore[no-untyped-def]
    out = []
    for info in client.list_artifacts(run_id, path):
        out.extend(_artifacts(client, run_id, info.path) if info.is_dir else [info.path])
    return out


def test_a_fit_without_a_run_starts_one_with_params_metrics_and_the_model(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog()
    X, y = make_regression(120, 4, noise=0.5, random_state=0)
    model = Ridge(alpha=0.5)
    returned = model.fit(X, y)
    assert returned is model  # the user's own object comes back
    run = nt.last_active_run()
    assert run.info.status == "FINISHED" and nt.active_run() is None
    assert run.data.params["alpha"] == "0.5"
    assert run.data.tags["estimator_name"] == "Ridge"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._ridge.Ridge"
    pred = model.predict(X)
    expected = {
        "training_mean_squared_error": metrics.mean_squared_error(y, pred),
        "training_root_mean_squared_error": metrics.root_mean_squared_error(y, pred),
        "training_mean_absolute_error": metrics.mean_absolute_error(y, pred),
        "training_r2_score": metrics.r2_score(y, pred),
        "training_score": model.score(X, y),
    }
    assert run.data.metrics == pytest.approx(expected, rel=1e-9)
    loaded = nt.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(X), pred)
    signature = nt.models.load_model(f"runs:/{run.info.run_id}/model").metadata.signature
    assert signature is not None and signature.outputs is not None


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_classifier_training_metrics_equal_scikit_learns(auto, n_classes, weighted) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False)
    X, y = make_classification(150, 6, n_informative=4, n_classes=n_classes, random_state=1)
    w = np.random.default_rng(0).uniform(0.5, 2, len(y)) if weighted else None
    for model in (LogisticRegression(max_iter=500), RandomForestClassifier(10, random_state=0)):
        model.fit(X, y, sample_weight=w)
        logged = nt.last_active_run().data.metrics
        pred, proba = model.predict(X), model.predict_proba(X)
        score = proba[:, 1] if n_classes == 2 else proba
        expected = {
            "training_accuracy_score": metrics.accuracy_score(y, pred, sample_weight=w),
            "training_precision_score": metrics.precision_score(
                y, pred, average="weighted", sample_weight=w
            ),
            "training_recall_score": metrics.recall_score(
                y, pred, average="weighted", sample_weight=w
            ),
            "training_f1_score": metrics.f1_score(y, pred, average="weighted", sample_weight=w),
            "training_log_loss": metrics.log_loss(y, proba, sample_weight=w),
            "training_score": model.score(X, y, sample_weight=w),
        }
        if not (weighted and n_classes > 2):  # scikit-learn has no weighted one-vs-one AUC
            expected["training_roc_auc"] = metrics.roc_auc_score(
                y, score, average="weighted", multi_class="ovo", sample_weight=w
            )
        assert logged == pytest.approx(expected, rel=1e-9), type(model).__name__


def test_a_pipeline_logs_its_steps_params_in_one_run(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False)
    X, y = make_classification(100, 5, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.3))])
    pipe.fit(X, y)
    runs = _only_run(auto)
    assert len(runs) == 1  # the steps' own fits are not logged again
    params = runs[0].data.params
    assert params["clf__C"] == "0.3" and "scale__with_mean" in params
    assert runs[0].data.tags["estimator_name"] == "Pipeline"
    assert "training_accuracy_score" in runs[0].data.metrics


def test_a_grid_search_logs_best_params_child_runs_and_cv_results(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(max_tuning_runs=2)
    X, y = make_regression(90, 3, noise=1.0, random_state=0)
    search = GridSearchCV(Ridge(), {"alpha": [0.01, 1.0, 100.0]}, cv=3).fit(X, y)
    run = nt.last_active_run()
    assert run.data.params["best_alpha"] == str(search.best_params_["alpha"])
    assert run.data.params["cv"] == "3"
    assert run.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    paths = _artifacts(auto, run.info.run_id)
    assert "cv_results.csv" in paths
    assert any(p.startswith("best_estimator/") for p in paths)
    assert any(p.startswith("model/") for p in paths)
    rows = list(csv.DictReader(io.StringIO(_read(auto, run, "cv_results.csv"))))
    assert len(rows) == 3 and {"mean_test_score", "rank_test_score"} <= set(rows[0])
    kids = nt.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'", output_format="list"
    )
    assert len(kids) == 2  # max_tuning_runs best candidates
    ranks = sorted(k.data.metrics["rank_test_score"] for k in kids)
    assert ranks == [1.0, 2.0]
    best = next(k for k in kids if k.data.metrics["rank_test_score"] == 1.0)
    assert best.data.params["alpha"] == str(search.best_params_["alpha"])
    assert best.data.tags["estimator_name"] == "Ridge"


def _read(client, run, path):  # type: ignore[no-untyped-def]
    import pathlib
    import tempfile

    local = client.download_artifacts(run.info.run_id, path, tempfile.mkdtemp())
    return pathlib.Path(local).read_text()


def test_post_training_metrics_are_named_after_the_data_variable(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False)
    from sklearn.metrics import mean_absolute_error, r2_score  # imported after autolog

    X, y = make_regression(100, 3, noise=1.0, random_state=0)
    X_train, X_test, y_train, y_test = X[:70], X[70:], y[:70], y[70:]
    model = Ridge().fit(X_train, y_train)
    run_id = nt.last_active_run().info.run_id
    r2 = r2_score(y_test, model.predict(X_test))
    mae = mean_absolute_error(y_test, model.predict(X_test))
    r2_again = r2_score(y_test, model.predict(X_test))
    score = model.score(X_test, y_test)
    nt.flush()
    logged = nt.get_run(run_id).data.metrics
    assert logged["r2_score_X_test"] == pytest.approx(r2)
    assert logged["r2_score-2_X_test"] == pytest.approx(r2_again)
    assert logged["mean_absolute_error_X_test"] == pytest.approx(mae)
    assert logged["Ridge_score_X_test"] == pytest.approx(score)


def test_inside_a_users_run_it_logs_there_and_leaves_the_run_open(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False)
    X, y = make_regression(50, 3, random_state=0)
    with nt.start_run() as run:
        Ridge(alpha=2.0).fit(X, y)
        assert nt.active_run().info.run_id == run.info.run_id
    assert len(_only_run(auto)) == 1
    assert nt.get_run(run.info.run_id).data.params["alpha"] == "2.0"


def test_exclusive_mode_does_not_log_into_a_users_run(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(exclusive=True, log_models=False)
    X, y = make_regression(50, 3, random_state=0)
    with nt.start_run() as run:
        Ridge().fit(X, y)
    assert nt.get_run(run.info.run_id).data.params == {}


def test_a_logging_failure_is_a_warning_and_training_is_untouched(auto, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("store is down")

    monkeypatch.setattr(common, "log_params", broken)
    monkeypatch.setattr(autolog, "training_run", _raising_run)
    X, y = make_regression(50, 3, random_state=0)
    model = Ridge()
    with pytest.warns(patching.AutologWarning, match="store is down"):
        assert model.fit(X, y) is model
    plain = Ridge().fit.__wrapped__  # the original method, unpatched
    reference = Ridge()
    plain(reference, X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_)


def _raising_run(st):  # type: ignore[no-untyped-def]
    raise RuntimeError("store is down")


def test_the_users_exception_propagates_and_the_autolog_run_fails(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog()
    with warnings.catch_warnings():
        warnings.simplefilter("error", patching.AutologWarning)
        with pytest.raises(ValueError):
            Ridge().fit(np.ones((3, 2)), np.ones(5))  # inconsistent lengths
    assert nt.last_active_run().info.status == "FAILED"


def test_disable_removes_the_patches(auto) -> None:  # type: ignore[no-untyped-def]
    original = Ridge.__dict__.get("fit")
    nt.sklearn.autolog()
    assert hasattr(Ridge.fit, "__nt_original__")
    nt.sklearn.autolog(disable=True)
    assert Ridge.__dict__.get("fit") is original
    X, y = make_regression(30, 2, random_state=0)
    Ridge().fit(X, y)
    assert _only_run(auto) == []


def test_log_models_false_and_silent_options(auto) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False, silent=True)
    X, y = make_regression(30, 2, random_state=0)
    Ridge().fit(X, y)
    run = nt.last_active_run()
    assert _artifacts(auto, run.info.run_id) == []


def test_unknown_options_are_refused_with_the_known_ones(auto) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="max_tuning_runs"):
        nt.sklearn.autolog(max_tuning_runs=-1)
    with pytest.raises(Exception, match="no option 'log_every_epoch'.*max_tuning_runs"):
        autolog.configure("sklearn", log_every_epoch=True)
    with pytest.raises(Exception, match="No autologging integration named 'sklaern'"):
        autolog.configure("sklaern")


def test_nt_autolog_turns_on_installed_frameworks(auto) -> None:  # type: ignore[no-untyped-def]
    assert "sklearn" in nt.autolog(log_models=False)
    X, y = make_regression(30, 2, random_state=0)
    Ridge().fit(X, y)
    assert nt.last_active_run().data.params["alpha"] == "1.0"


def test_an_autologged_model_loads_in_mlflow(auto, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    nt.sklearn.autolog(log_input_examples=True)
    X, y = make_regression(40, 3, random_state=0)
    model = Ridge().fit(X, y)
    run = nt.last_active_run()
    local = auto.download_artifacts(run.info.run_id, "model", str(tmp_path))
    theirs = mlflow_sklearn.load_model(local)
    np.testing.assert_allclose(theirs.predict(X), model.predict(X))


def test_cells_turn_autologging_on_unless_switched_off(auto, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    X, y = make_regression(30, 2, random_state=0)
    autolog.arm()  # what %load_ext does: hooked, but inert outside cells
    Ridge(alpha=3.0).fit(X, y)
    assert _only_run(auto) == []
    with nt.start_run() as cell, autolog.cell_scope():
        Ridge(alpha=3.0).fit(X, y)
    assert nt.get_run(cell.info.run_id).data.params["alpha"] == "3.0"
    monkeypatch.setenv(autolog.ENV_CELL_AUTOLOG, "0")
    with nt.start_run() as off, autolog.cell_scope():
        Ridge(alpha=3.0).fit(X, y)
    assert nt.get_run(off.info.run_id).data.params == {}
    monkeypatch.delenv(autolog.ENV_CELL_AUTOLOG)
    nt.sklearn.autolog(disable=True)
    with nt.start_run() as disabled, autolog.cell_scope():
        Ridge(alpha=3.0).fit(X, y)
    assert nt.get_run(disabled.info.run_id).data.params == {}


def test_importing_scikit_learn_after_autolog_is_silent_and_hooks_its_estimators(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    code = (
        "import notebook_tracker as nt\n"
        f"nt.set_tracking_uri({str(tmp_path)!r})\n"
        "nt.sklearn.autolog(log_models=False)\n"
        "from sklearn.linear_model import Ridge\n"
        "from sklearn.decomposition import PCA\n"
        "import numpy as np\n"
        "X = np.arange(40.0).reshape(20, 2) ** 0.5\n"
        "Ridge().fit(X, X[:, 0]); PCA(1).fit_transform(X)\n"
        "print(len(nt.search_runs(output_format='list')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "Warning" not in out.stderr, out.stderr
    assert out.stdout.strip() == "2"

"""scikit-learn autologging writes a fit's training metrics and model after the fit returns.

The background worker is held up with a blocking job where a test needs to act while the work
is still pending, so what is asserted does not depend on timing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import metrics  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402

import notebook_tracker as nt  # noqa: E402
from notebook_tracker import run_jobs  # noqa: E402
from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.entities import ViewType  # noqa: E402
from notebook_tracker.frameworks import (  # noqa: E402
    autolog,
    common,
    patching,
    sklearn_deferred,
    sklearn_eval,
)

TIMEOUT_S = 60


@pytest.fixture
def auto(tracking_uri):  # type: ignore[no-untyped-def]
    autolog.reset_for_tests()
    sklearn_eval.reset()
    yield TrackingClient(tracking_uri)
    autolog.reset_for_tests()
    sklearn_eval.reset()


@pytest.fixture
def held() -> Iterator[threading.Event]:
    """The worker is busy until the event is set (always set at the end)."""
    release = threading.Event()
    run_jobs.submit("test-blocker", lambda: release.wait(TIMEOUT_S))
    yield release
    release.set()


def _stored_runs(client):  # type: ignore[no-untyped-def]
    """Straight from the store: no waiting for background work."""
    ids = [e.experiment_id for e in client.store.search_experiments()]
    return list(client.store.search_runs(ids, "", ViewType.ALL))


def _artifacts(client, run_id, path=None):  # type: ignore[no-untyped-def]
    out = []
    for info in client.list_artifacts(run_id, path):
        out.extend(_artifacts(client, run_id, info.path) if info.is_dir else [info.path])
    return out


def test_the_fit_returns_before_its_model_is_written_and_reads_wait_for_it(auto, held) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog()
    X, y = make_regression(80, 3, noise=0.5, random_state=0)
    Ridge(alpha=0.5).fit(X, y)
    assert nt.active_run() is None
    [stored] = _stored_runs(auto)
    assert stored.info.status == "RUNNING"  # the fit did not wait for the model
    threading.Timer(0.3, held.set).start()
    run = nt.last_active_run()  # waits for the work, then reads
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.5"
    assert run.data.tags["estimator_name"] == "Ridge"
    assert "training_r2_score" in run.data.metrics
    assert "model/MLmodel" in _artifacts(auto, run.info.run_id)


def test_changing_the_model_and_data_after_fit_does_not_change_what_is_logged(auto, held) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog()
    X, y = make_classification(120, 5, random_state=0)
    model = LogisticRegression(max_iter=500).fit(X, y)
    pred, proba = model.predict(X), model.predict_proba(X)
    expected_accuracy = metrics.accuracy_score(y, pred)
    expected_log_loss = metrics.log_loss(y, proba)
    original_X = X.copy()
    model.coef_[:] = 0.0  # the user changes both before the background work has run
    X[:] = 0.0
    y[:] = 1 - y
    held.set()
    run = nt.last_active_run()
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(expected_accuracy)
    assert run.data.metrics["training_log_loss"] == pytest.approx(expected_log_loss)
    loaded = nt.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(original_X), pred)


def test_a_users_run_ends_only_after_its_model_is_written(auto, held) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog()
    X, y = make_regression(60, 3, random_state=0)
    with nt.start_run() as run:
        Ridge().fit(X, y)
        assert run_jobs.pending(run.info.run_id)
        threading.Timer(0.3, held.set).start()
    assert not run_jobs.pending(run.info.run_id)  # end_run waited
    [stored] = _stored_runs(auto)
    assert stored.info.status == "FINISHED"
    assert "training_mean_squared_error" in stored.data.metrics
    assert "model/MLmodel" in _artifacts(auto, run.info.run_id)


def test_a_background_logging_failure_is_a_warning_and_the_run_still_finishes(  # type: ignore[no-untyped-def]
    auto, monkeypatch
) -> None:
    nt.sklearn.autolog()

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("artifact store is full")

    monkeypatch.setattr(common, "log_model", broken)
    X, y = make_regression(60, 3, random_state=0)
    model = Ridge()
    with pytest.warns(patching.AutologWarning, match="artifact store is full"):
        assert model.fit(X, y) is model
        nt.flush()
    run = nt.last_active_run()
    assert run.info.status == "FINISHED"
    assert "training_r2_score" in run.data.metrics


def test_data_too_large_to_copy_is_logged_before_the_fit_returns(auto, held, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sklearn_deferred, "MAX_COPY_BYTES", 0)
    nt.sklearn.autolog()
    X, y = make_regression(60, 3, random_state=0)
    Ridge().fit(X, y)
    [stored] = _stored_runs(auto)  # the worker is still held: all of it was done in line
    assert stored.info.status == "FINISHED"
    assert "training_r2_score" in stored.data.metrics
    assert not run_jobs.pending(stored.info.run_id)


def test_an_estimator_pickle_refuses_is_logged_in_line_with_cloudpickle(auto, held) -> None:  # type: ignore[no-untyped-def]
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    nt.sklearn.autolog()
    X, y = make_regression(60, 3, random_state=0)
    pipe = make_pipeline(FunctionTransformer(lambda a: a * 2.0), Ridge()).fit(X, y)
    [stored] = _stored_runs(auto)
    assert stored.info.status == "FINISHED"
    held.set()
    loaded = nt.sklearn.load_model(f"runs:/{stored.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(X), pipe.predict(X))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_training_metrics_equal_scikit_learns_to_1e_12(auto, kind, weighted) -> None:  # type: ignore[no-untyped-def]
    nt.sklearn.autolog(log_models=False)
    rng = np.random.default_rng(3)
    if kind == "regression":
        X, y = make_regression(300, 5, noise=3.0, random_state=2)
        model = Ridge(alpha=0.3)
    else:
        classes = 2 if kind == "binary" else 4
        X, y = make_classification(300, 6, n_informative=4, n_classes=classes, random_state=2)
        model = RandomForestClassifier(15, max_depth=4, random_state=0)
    w = rng.uniform(0.2, 3.0, len(y)) if weighted else None
    model.fit(X, y, sample_weight=w)
    logged = nt.last_active_run().data.metrics
    pred = model.predict(X)
    if kind == "regression":
        expected = {
            "mean_squared_error": metrics.mean_squared_error(y, pred, sample_weight=w),
            "root_mean_squared_error": metrics.root_mean_squared_error(y, pred, sample_weight=w),
            "mean_absolute_error": metrics.mean_absolute_error(y, pred, sample_weight=w),
            "r2_score": metrics.r2_score(y, pred, sample_weight=w),
        }
    else:
        proba = model.predict_proba(X)
        expected = {
            "accuracy_score": metrics.accuracy_score(y, pred, sample_weight=w),
            "precision_score": metrics.precision_score(
                y, pred, average="weighted", sample_weight=w
            ),
            "recall_score": metrics.recall_score(y, pred, average="weighted", sample_weight=w),
            "f1_score": metrics.f1_score(y, pred, average="weighted", sample_weight=w),
            "log_loss": metrics.log_loss(y, proba, sample_weight=w),
        }
        if kind == "binary":
            expected["roc_auc"] = metrics.roc_auc_score(y, proba[:, 1], sample_weight=w)
    for name, value in expected.items():
        assert logged["training_" + name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_jobs_run_in_order_and_a_failing_one_does_not_stop_the_next() -> None:
    seen: list[int] = []

    def failing() -> None:
        seen.append(2)
        raise RuntimeError("boom")

    run_jobs.submit("r-order", lambda: seen.append(1))
    run_jobs.submit("r-order", failing)
    run_jobs.submit("r-other", lambda: seen.append(3))
    run_jobs.wait_all()
    assert seen == [1, 2, 3]
    assert not run_jobs.pending("r-order") and not run_jobs.pending("r-other")


def test_a_job_that_reads_its_own_run_does_not_wait_for_itself() -> None:
    done = threading.Event()

    def job() -> None:
        run_jobs.wait("r-self")  # returns at once inside a job
        run_jobs.wait_all()
        done.set()

    run_jobs.submit("r-self", job)
    assert done.wait(TIMEOUT_S)


def test_process_exit_waits_for_the_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    fit = (
        "import notebook_tracker as nt\n"
        f"nt.set_tracking_uri({str(store)!r})\n"
        "nt.sklearn.autolog()\n"
        "from sklearn.linear_model import Ridge\n"
        "import numpy as np\n"
        "X = np.arange(60.0).reshape(20, 3) ** 0.5\n"
        "Ridge().fit(X, X[:, 0])\n"  # and exit at once
    )
    subprocess.run([sys.executable, "-c", fit], check=True, timeout=120)
    read = (
        "import notebook_tracker as nt\n"
        f"nt.set_tracking_uri({str(store)!r})\n"
        "[run] = nt.search_runs(output_format='list')\n"
        "files = [f.path for f in nt.TrackingClient().list_artifacts(run.info.run_id, 'model')]\n"
        "print(run.info.status, 'model/MLmodel' in files,\n"
        "      'training_r2_score' in run.data.metrics)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", read], check=True, timeout=120, capture_output=True, text=True
    )
    assert out.stdout.split() == ["FINISHED", "True", "True"]


def test_an_interrupted_end_still_ends_the_run_after_its_work(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    release, ended = threading.Event(), threading.Event()
    run_jobs.submit("r-interrupted", lambda: release.wait(TIMEOUT_S))

    def interrupted(run_id: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_jobs, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_jobs.end_after_jobs("r-interrupted", ended.set)
    assert not ended.is_set()  # not before the run's work
    release.set()
    assert ended.wait(TIMEOUT_S)

"""Keras 3 (torch backend): the `keras` flavor both ways with MLflow, and fit autologging."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
keras = pytest.importorskip("keras")

import notebook_tracker as nt  # noqa: E402
import notebook_tracker.models as ntm  # noqa: E402
from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.frameworks import autolog, dl_common, patching  # noqa: E402
from notebook_tracker.models.scoring.app import score  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.random((64, 3)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5], dtype="float32")).reshape(-1, 1)


@pytest.fixture(autouse=True)
def _clean_autolog():
    autolog.reset_for_tests()
    yield
    autolog.reset_for_tests()


def _model(seed: int = 0):  # type: ignore[no-untyped-def]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


def test_keras_model_round_trips_and_crosses_to_mlflow_both_ways(tmp_path):
    mlflow = pytest.importorskip("mlflow")
    model = _model()
    expected = model.predict(X[:4], verbose=0)
    nt.keras.save_model(model, tmp_path / "ours", input_example=X[:2])
    assert (tmp_path / "ours" / "data" / "model.keras").is_file()
    meta = ntm.Model.load(tmp_path / "ours")
    assert meta.flavors["keras"]["keras_backend"] == "torch"
    np.testing.assert_allclose(
        nt.keras.load_model(tmp_path / "ours").predict(X[:4], verbose=0), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        mlflow.keras.load_model(str(tmp_path / "ours")).predict(X[:4], verbose=0),
        expected,
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(mlflow.pyfunc.load_model(str(tmp_path / "ours")).predict(X[:4])),
        expected,
        rtol=1e-5,
    )
    mlflow.keras.save_model(model, str(tmp_path / "theirs"), pip_requirements=["keras"])
    served = ntm.load_model(tmp_path / "theirs")
    frame = pd.DataFrame(X[:4], columns=["a", "b", "c"])
    np.testing.assert_allclose(served.predict(frame).to_numpy(), expected, rtol=1e-5)
    body = json.dumps({"dataframe_split": frame.to_dict(orient="split")}).encode()
    status, answer = score(served, body, "application/json")
    assert status == 200, answer
    assert len(json.loads(answer)["predictions"]) == 4


def test_fit_logs_arguments_optimizer_epoch_metrics_summary_and_model(tracking_uri):
    nt.keras.autolog()
    model = _model()
    history = model.fit(X, Y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)
    run = nt.last_active_run()
    params = run.data.params
    assert params["epochs"] == "4" and params["batch_size"] == "16"
    assert params["validation_split"] == "0.25"
    assert params["opt_name"] == "Adam" and float(params["opt_learning_rate"]) == pytest.approx(
        0.01
    )
    client = TrackingClient(tracking_uri)
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in losses] == [0, 1, 2, 3]
    assert [m.value for m in losses] == pytest.approx(history.history["loss"])
    assert len(client.get_metric_history(run.info.run_id, "val_mae")) == 4
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model_summary.txt", "model"} <= names
    logged = nt.keras.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(
        logged.predict(X[:3], verbose=0), model.predict(X[:3], verbose=0), rtol=1e-5
    )
    assert isinstance(history, keras.callbacks.History)  # what the user's code gets back


def test_early_stopping_settings_and_outcome_are_logged(tracking_uri):
    nt.keras.autolog(log_models=False)
    model = _model()
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", patience=1, min_delta=100.0, restore_best_weights=True
    )
    model.fit(X, Y, epochs=10, verbose=0, callbacks=[stop])
    run = nt.last_active_run()
    assert run.data.params["monitor"] == "loss" and run.data.params["patience"] == "1"
    assert run.data.metrics["stopped_epoch"] == stop.stopped_epoch > 0
    assert run.data.metrics["restored_epoch"] == stop.best_epoch


def test_a_failure_while_logging_leaves_the_fit_untouched(tracking_uri, monkeypatch):
    plain = _model()
    plain.fit(X, Y, epochs=2, verbose=0)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(dl_common, "log_metrics", broken)
    nt.keras.autolog(log_models=False)
    logged = _model()
    with pytest.warns(patching.AutologWarning, match="disk full"):
        logged.fit(X, Y, epochs=2, verbose=0)
    for a, b in zip(plain.get_weights(), logged.get_weights(), strict=True):
        np.testing.assert_allclose(a, b)


def test_callbacks_passed_positionally_still_run(tracking_uri):
    nt.keras.autolog(log_models=False)
    seen = []
    mine = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _model().fit(X, Y, 8, 2, 0, [mine])
    assert seen == [0, 1]
    assert "loss" in nt.last_active_run().data.metrics


def test_the_model_is_written_after_fit_returns_with_the_weights_fit_left(tracking_uri):
    import threading

    from notebook_tracker import run_jobs

    nt.keras.autolog()
    model = _model()
    release = threading.Event()
    run_jobs.submit("another-run", release.wait)  # the worker is busy until released
    try:
        model.fit(X, Y, epochs=3, verbose=0)
        fitted = [w.copy() for w in model.get_weights()]
        model.set_weights([np.zeros_like(w) for w in fitted])  # the user moves on at once
    finally:
        release.set()
    run_id = nt.last_active_run().info.run_id  # a read: waits for the run's writes
    logged = nt.keras.load_model(f"runs:/{run_id}/model")
    for got, want in zip(logged.get_weights(), fitted, strict=True):
        np.testing.assert_array_equal(got, want)
    run = TrackingClient(tracking_uri).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert {"model_summary.txt", "model"} <= {
        a.path for a in TrackingClient(tracking_uri).list_artifacts(run_id)
    }

"""XGBoost and LightGBM: autologging (native train and scikit-learn API) and the flavors,
cross-loaded with the real mlflow package both ways and scored by the scoring server."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

import notebook_tracker as nt  # noqa: E402
import notebook_tracker.models as ntm  # noqa: E402
from notebook_tracker.client import TrackingClient  # noqa: E402
from notebook_tracker.frameworks import autolog, common, patching  # noqa: E402
from notebook_tracker.models.scoring.app import score  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(240, 4))
Y = (X[:, 0] + RNG.normal(scale=0.4, size=240) > 0).astype(int)
FRAME = pd.DataFrame(X, columns=["a", "b", "c", "d"])
PIP = ["xgboost", "lightgbm"]  # mlflow would otherwise infer requirements (slow)


@pytest.fixture
def auto(tracking_uri):  # type: ignore[no-untyped-def]
    autolog.reset_for_tests()
    yield TrackingClient(tracking_uri)
    autolog.reset_for_tests()


def _paths(client, run_id):  # type: ignore[no-untyped-def]
    return sorted(f.path for f in client.list_artifacts(run_id))


def _json(client, run_id, path, tmp_path):  # type: ignore[no-untyped-def]
    return json.loads(Path(client.download_artifacts(run_id, path, str(tmp_path))).read_text())


def test_xgboost_train_logs_params_iterations_early_stopping_importance_and_booster(auto, tmp_path):  # type: ignore[no-untyped-def]
    nt.xgboost.autolog()
    train, valid = xgb.DMatrix(X[:180], Y[:180]), xgb.DMatrix(X[180:], Y[180:])
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3},
        train,
        num_boost_round=60,
        evals=[(train, "train"), (valid, "validation")],
        early_stopping_rounds=3,
        verbose_eval=False,
    )
    run = nt.last_active_run()
    rid = run.info.run_id
    assert run.data.params["max_depth"] == "2" and run.data.params["num_boost_round"] == "60"
    assert "dtrain" not in run.data.params and "evals" not in run.data.params
    history = auto.get_metric_history(rid, "validation-logloss")
    rounds = booster.num_boosted_rounds()
    # one point per iteration, then the best iteration's value one step later (MLflow)
    assert list(history.steps) == [*range(rounds), rounds]
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == rounds - 1
    assert history.values[-1] == pytest.approx(history.values[booster.best_iteration])
    assert {"feature_importance_weight.json", "feature_importance_weight.png", "model"} <= set(
        _paths(auto, rid)
    )
    assert _json(auto, rid, "feature_importance_weight.json", tmp_path) == pytest.approx(
        booster.get_score(importance_type="weight")
    )
    loaded = nt.xgboost.load_model(f"runs:/{rid}/model")
    np.testing.assert_allclose(loaded.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))


def test_xgboost_sklearn_fit_logs_the_estimator_with_signature_and_eval_metrics(auto) -> None:  # type: ignore[no-untyped-def]
    nt.xgboost.autolog(log_input_examples=True, importance_types=["gain", "weight"])
    model = xgb.XGBClassifier(n_estimators=8, max_depth=2)
    assert model.fit(FRAME, Y, eval_set=[(FRAME, Y)], verbose=False) is model
    run = nt.last_active_run()
    rid = run.info.run_id
    assert len(auto.get_metric_history(rid, "validation_0-logloss")) == 8
    assert {"feature_importance_gain.json", "feature_importance_weight.png"} <= set(
        _paths(auto, rid)
    )
    pyfunc = ntm.load_model(f"runs:/{rid}/model")
    assert pyfunc.metadata.signature.inputs.names() == ["a", "b", "c", "d"]
    native = nt.xgboost.load_model(f"runs:/{rid}/model")
    assert isinstance(native, xgb.XGBClassifier)
    np.testing.assert_array_equal(native.predict(FRAME), model.predict(FRAME))
    assert len(nt.search_runs(output_format="list")) == 1  # fit and its train(): one run


def test_lightgbm_train_logs_params_iterations_early_stopping_importance_and_booster(
    auto, tmp_path
):  # type: ignore[no-untyped-def]
    nt.lightgbm.autolog()
    train = lgb.Dataset(X[:180], Y[:180])
    valid = lgb.Dataset(X[180:], Y[180:], reference=train)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbose": -1},
        train,
        num_boost_round=80,
        valid_sets=[valid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(3, verbose=False)],
    )
    run = nt.last_active_run()
    rid = run.info.run_id
    assert run.data.params["num_leaves"] == "4" and run.data.params["num_boost_round"] == "80"
    history = auto.get_metric_history(rid, "valid-binary_logloss")
    trained = len(history) - 1
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == trained
    assert history.values[-1] == pytest.approx(history.values[booster.best_iteration - 1])
    for kind in ("split", "gain"):
        logged = _json(auto, rid, f"feature_importance_{kind}.json", tmp_path)
        expected = booster.feature_importance(importance_type=kind).tolist()
        assert list(logged.values()) == pytest.approx(expected)
        assert f"feature_importance_{kind}.png" in _paths(auto, rid)
    loaded = nt.lightgbm.load_model(f"runs:/{rid}/model")
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))


def test_lightgbm_sklearn_fit_logs_the_estimator(auto) -> None:  # type: ignore[no-untyped-def]
    nt.lightgbm.autolog()
    model = lgb.LGBMRegressor(n_estimators=6, verbose=-1)
    valid = FRAME.iloc[:50]
    assert model.fit(FRAME, X[:, 1], eval_X=(valid,), eval_y=(X[:50, 1],)) is model
    run = nt.last_active_run()
    rid = run.info.run_id
    assert [k for k in run.data.metrics if k.endswith("-l2")] == ["valid_0-l2"]
    assert len(auto.get_metric_history(rid, "valid_0-l2")) == 6
    native = nt.lightgbm.load_model(f"runs:/{rid}/model")
    assert isinstance(native, lgb.LGBMRegressor)
    np.testing.assert_allclose(native.predict(FRAME), model.predict(FRAME))
    assert ntm.load_model(f"runs:/{rid}/model").metadata.signature is not None


def test_a_metric_logging_failure_warns_and_training_completes(auto, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    nt.xgboost.autolog(log_models=False)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(common, "log_metrics", broken)
    train = xgb.DMatrix(X, Y)
    with pytest.warns(patching.AutologWarning, match="disk full"):
        booster = xgb.train({"max_depth": 2}, train, 5, evals=[(train, "train")], verbose_eval=0)
    assert booster.num_boosted_rounds() == 5
    monkeypatch.undo()
    reference = xgb.train.__wrapped__({"max_depth": 2}, train, 5)  # type: ignore[attr-defined]
    np.testing.assert_allclose(booster.predict(train), reference.predict(train))


def test_disable_restores_the_training_functions(auto) -> None:  # type: ignore[no-untyped-def]
    before = (xgb.train, xgb.training.train, lgb.train, lgb.engine.train)
    nt.xgboost.autolog()
    nt.lightgbm.autolog()
    assert xgb.train is not before[0] and lgb.train is not before[2]
    nt.xgboost.autolog(disable=True)
    nt.lightgbm.autolog(disable=True)
    assert (xgb.train, xgb.training.train, lgb.train, lgb.engine.train) == before


# -- flavors: both ways with mlflow, and served ------------------------------------------------
def _served(model_dir: Path) -> np.ndarray:
    body = json.dumps({"dataframe_split": FRAME.to_dict(orient="split")}).encode()
    status, answer = score(ntm.load_model(model_dir), body, "application/json")
    assert status == 200, answer
    return np.asarray(json.loads(answer)["predictions"])


@pytest.mark.parametrize("fmt", ["ubj", "json"])
def test_xgboost_models_cross_load_with_mlflow_both_ways(tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    import mlflow.xgboost

    sk = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(FRAME, Y)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(FRAME, Y), 5)
    for name, model in (("sk", sk), ("booster", booster)):
        ours, theirs = tmp_path / f"ours-{name}", tmp_path / f"theirs-{name}"
        nt.xgboost.save_model(model, ours, model_format=fmt)
        mlflow.xgboost.save_model(model, str(theirs), model_format=fmt, pip_requirements=PIP)
        expected = model.predict(FRAME if name == "sk" else xgb.DMatrix(FRAME))
        assert type(mlflow.xgboost.load_model(str(ours))) is type(model)
        np.testing.assert_allclose(mlflow.pyfunc.load_model(str(ours)).predict(FRAME), expected)
        assert type(nt.xgboost.load_model(theirs)) is type(model)
        np.testing.assert_allclose(ntm.load_model(theirs).predict(FRAME), expected)
        np.testing.assert_allclose(_served(ours), expected)
        np.testing.assert_allclose(_served(theirs), expected)


@pytest.mark.parametrize("fmt", ["cloudpickle", "skops"])
def test_lightgbm_models_cross_load_with_mlflow_both_ways(tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    import mlflow.lightgbm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(FRAME, Y)
    booster = lgb.train({"verbose": -1}, lgb.Dataset(FRAME, Y), 5)
    for name, model in (("sk", sk), ("booster", booster)):
        ours, theirs = tmp_path / f"ours-{name}", tmp_path / f"theirs-{name}"
        nt.lightgbm.save_model(model, ours, serialization_format=fmt)
        mlflow.lightgbm.save_model(
            model, str(theirs), serialization_format=fmt, pip_requirements=PIP
        )
        expected = model.predict(FRAME)
        assert type(mlflow.lightgbm.load_model(str(ours))) is type(model)
        np.testing.assert_allclose(mlflow.pyfunc.load_model(str(ours)).predict(FRAME), expected)
        assert type(nt.lightgbm.load_model(theirs)) is type(model)
        np.testing.assert_allclose(ntm.load_model(theirs).predict(FRAME), expected)
        np.testing.assert_allclose(_served(ours), expected)
        np.testing.assert_allclose(_served(theirs), expected)


def test_save_model_picks_the_boosting_flavor_over_sklearn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ntm.save_model(xgb.XGBRegressor(n_estimators=2).fit(X, X[:, 0]), tmp_path / "x")
    ntm.save_model(lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(X, X[:, 0]), tmp_path / "l")
    assert set(ntm.Model.load(tmp_path / "x").flavors) == {"xgboost", "python_function"}
    assert set(ntm.Model.load(tmp_path / "l").flavors) == {"lightgbm", "python_function"}


def test_the_xgboost_flavor_refuses_a_foreign_model_class(tmp_path) -> None:  # type: ignore[no-untyped-def]
    nt.xgboost.save_model(xgb.XGBRegressor(n_estimators=2).fit(X, X[:, 0]), tmp_path / "m")
    mlmodel = (tmp_path / "m" / "MLmodel").read_text()
    (tmp_path / "m" / "MLmodel").write_text(
        mlmodel.replace("xgboost.sklearn.XGBRegressor", "os.system")
    )
    with pytest.raises(Exception, match="not an XGBoost class"):
        nt.xgboost.load_model(tmp_path / "m")

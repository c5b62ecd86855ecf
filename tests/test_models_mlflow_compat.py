"""Models cross between MLflow and notebook-tracker in both directions.

MLflow-saved `python_function` (PythonModel) and `sklearn` models (pickle, cloudpickle, skops)
load, predict and score here; models saved here load in `mlflow.pyfunc.load_model`, which
also reads and enforces their signature. `mlflow` is imported once for the module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import notebook_tracker.models as ntm
from notebook_tracker.models.scoring.app import score

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
mlflow = pytest.importorskip("mlflow")

X = pd.DataFrame({"x": [1.0, 2.0, 3.0], "n": [1, 2, 3]})
Y = [3.0, 5.0, 7.0]
# MLflow saves infer requirements by loading the model in a child Python (5-20 s each);
# nothing here reads them, so the saves name theirs.
PIP = ["scikit-learn"]


class MlflowScaler(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.bias = float(Path(context.artifacts["bias"]).read_text())

    def predict(self, context, model_input, params=None):
        return model_input["x"] * (params or {}).get("k", 2) + self.bias


class OurScaler(ntm.PythonModel):
    def load_context(self, context):
        self.bias = float(Path(context.artifacts["bias"]).read_text())

    def predict(self, context, model_input, params=None):
        return model_input["x"] * (params or {}).get("k", 2) + self.bias


@pytest.fixture
def bias_file(tmp_path: Path) -> str:
    path = tmp_path / "bias.txt"
    path.write_text("1")
    return str(path)


def test_an_mlflow_python_model_with_artifacts_and_params_loads_here(tmp_path, bias_file):
    mlflow.pyfunc.save_model(
        tmp_path / "m",
        python_model=MlflowScaler(),
        artifacts={"bias": bias_file},
        input_example=(X.head(2), {"k": 2}),
        pip_requirements=["mlflow"],  # see PIP below
    )
    model = ntm.load_model(tmp_path / "m")
    assert model.predict(X.head(2)).tolist() == [3.0, 5.0]
    assert model.predict(X.head(1), params={"k": 10}).tolist() == [11.0]
    assert model.signature.inputs.names() == ["x", "n"]
    with pytest.raises(ntm.SchemaError, match="missing inputs"):
        model.predict(pd.DataFrame({"n": [1]}))


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle", "skops"])
def test_mlflow_sklearn_models_load_and_score_here_in_every_format(tmp_path, fmt):
    mlflow.sklearn.save_model(
        LinearRegression().fit(X, Y),
        tmp_path / "m",
        serialization_format=fmt,
        input_example=X,
        pip_requirements=PIP,
    )
    model = ntm.load_model(tmp_path / "m")
    np.testing.assert_allclose(model.predict(X), Y)
    assert isinstance(ntm.load_model(tmp_path / "m", flavor="sklearn"), LinearRegression)
    body = json.dumps({"dataframe_records": X.to_dict(orient="records")}).encode()
    status, answer = score(model, body, "application/json")
    assert status == 200
    np.testing.assert_allclose(json.loads(answer)["predictions"], Y)


def test_mlflow_default_sklearn_save_which_is_skops_loads_here(tmp_path):
    mlflow.sklearn.save_model(LinearRegression().fit(X, Y), tmp_path / "m", pip_requirements=PIP)
    np.testing.assert_allclose(ntm.load_model(tmp_path / "m").predict(X), Y)


def test_our_python_model_loads_in_mlflow_with_artifacts_params_and_signature(tmp_path, bias_file):
    ntm.save_model(
        OurScaler(),
        tmp_path / "m",
        artifacts={"bias": bias_file},
        input_example=(X.head(2), {"k": 2}),
    )
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    assert loaded.predict(X.head(2)).tolist() == [3.0, 5.0]
    assert loaded.predict(X.head(1), params={"k": 5}).tolist() == [6.0]
    assert loaded.metadata.get_input_schema().input_names() == ["x", "n"]
    with pytest.raises(Exception, match="missing inputs"):
        loaded.predict(pd.DataFrame({"n": [1]}))


def test_our_function_model_loads_in_mlflow(tmp_path):
    ntm.save_model(lambda frame: frame["x"] + 100, tmp_path / "m", input_example=X.head(1))
    assert mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X).tolist() == [101, 102, 103]


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle", "skops"])
def test_our_sklearn_models_load_in_mlflow_pyfunc_and_sklearn(tmp_path, fmt):
    ntm.save_model(
        LinearRegression().fit(X, Y), tmp_path / "m", serialization_format=fmt, input_example=X
    )
    np.testing.assert_allclose(mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X), Y)
    native = mlflow.sklearn.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(native.predict(X), Y)


def test_mlflow_reads_our_input_example(tmp_path):
    ntm.save_model(LinearRegression().fit(X, Y), tmp_path / "m", input_example=X.head(2))
    info = mlflow.models.Model.load(str(tmp_path / "m"))
    example = info.load_input_example(str(tmp_path / "m"))
    pd.testing.assert_frame_equal(example, X.head(2))

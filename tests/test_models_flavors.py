"""Saving and loading models: every flavor round-trips, through paths, runs:/, models:/ and s3://."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression

import notebook_tracker as nt
import notebook_tracker.models as ntm
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.models import flavors

X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "n": [1, 2, 3, 4]})
Y = [2.0, 4.0, 6.0, 8.0]


class Doubler(ntm.PythonModel):
    def load_context(self, context):
        self.offset = float(Path(context.artifacts["offset"]).read_text())
        self.scale = context.model_config.get("scale", 1)

    def predict(self, context, model_input, params=None):
        factor = (params or {}).get("factor", 2)
        return model_input["x"] * factor * self.scale + self.offset


class NoContext(ntm.PythonModel):
    def predict(self, model_input, params=None):
        return np.asarray(model_input["x"]) + 1


class HasPredict:
    def predict(self, frame):
        return frame["x"].to_numpy() * 10


def mlmodel(path: Path) -> dict:
    return yaml.safe_load((path / "MLmodel").read_text())


def test_python_model_with_artifacts_config_and_params_round_trips(tmp_path):
    offset = tmp_path / "offset.txt"
    offset.write_text("0.5")
    ntm.save_model(
        Doubler(),
        tmp_path / "m",
        artifacts={"offset": str(offset)},
        model_config={"scale": 10},
        input_example=(X.head(2), {"factor": 2}),
    )
    model = ntm.load_model(tmp_path / "m")
    assert model.predict(X.head(2)).tolist() == [20.5, 40.5]
    assert model.predict(X.head(1), params={"factor": 3}).tolist() == [30.5]
    meta = mlmodel(tmp_path / "m")
    conf = meta["flavors"]["python_function"]
    assert conf["loader_module"] == "notebook_tracker.models.flavors.pyfunc"
    assert conf["artifacts"]["offset"]["path"] == "artifacts/offset/offset.txt"
    assert json.loads(meta["signature"]["params"])[0]["name"] == "factor"
    assert set(meta) >= {"flavors", "model_uuid", "utc_time_created", "signature"}
    serving = json.loads((tmp_path / "m" / "serving_input_example.json").read_text())
    assert serving["dataframe_split"]["columns"] == ["x", "n"] and serving["params"] == {
        "factor": 2
    }


def test_python_model_whose_predict_takes_no_context_works(tmp_path):
    ntm.save_model(NoContext(), tmp_path / "m")
    assert ntm.load_model(tmp_path / "m").predict(X.head(2)).tolist() == [2.0, 3.0]


def test_any_object_with_predict_and_a_plain_function_are_models(tmp_path):
    ntm.save_model(HasPredict(), tmp_path / "obj", input_example=X.head(2))
    ntm.save_model(lambda frame: frame["n"] * 2, tmp_path / "fn", input_example=X.head(2))
    assert ntm.load_model(tmp_path / "obj").predict(X.head(2)).tolist() == [10.0, 20.0]
    assert ntm.load_model(tmp_path / "fn").predict(X.head(2)).tolist() == [2, 4]
    assert mlmodel(tmp_path / "fn")["flavors"]["python_function"]["model_kind"] == "callable"


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle", "skops"])
def test_sklearn_round_trips_in_each_serialization_format(tmp_path, fmt):
    estimator = LinearRegression().fit(X, Y)
    ntm.save_model(estimator, tmp_path / "m", serialization_format=fmt, input_example=X.head(2))
    meta = mlmodel(tmp_path / "m")
    assert meta["flavors"]["sklearn"]["serialization_format"] == fmt
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    np.testing.assert_allclose(ntm.load_model(tmp_path / "m").predict(X), Y)
    native = ntm.load_model(tmp_path / "m", flavor="sklearn")
    assert isinstance(native, LinearRegression)
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements


def test_sklearn_can_serve_predict_proba(tmp_path):
    clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    ntm.save_model(clf, tmp_path / "m", pyfunc_predict_fn="predict_proba")
    assert ntm.load_model(tmp_path / "m").predict(X).shape == (4, 2)


def test_skops_without_the_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(InvalidParameter, match="pip install skops"):
        ntm.save_model(LinearRegression().fit(X, Y), tmp_path / "m", serialization_format="skops")
    assert not (tmp_path / "m").exists()


def test_saving_over_an_existing_model_is_refused(tmp_path):
    ntm.save_model(HasPredict(), tmp_path / "m")
    with pytest.raises(InvalidParameter, match="already exists"):
        ntm.save_model(HasPredict(), tmp_path / "m")


def test_a_model_failing_on_its_example_is_saved_with_input_signature_only(tmp_path):
    def broken(frame):
        raise RuntimeError("boom")

    with pytest.warns(UserWarning, match="failed to predict"):
        ntm.save_model(broken, tmp_path / "m", input_example=X.head(1))
    sig = ntm.load_model(tmp_path / "m").signature
    assert sig.inputs is not None and sig.outputs is None


def test_environment_files_are_written(tmp_path):
    ntm.save_model(HasPredict(), tmp_path / "m")
    env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]
    assert env["python"].startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert "cloudpickle==" in (tmp_path / "m" / "requirements.txt").read_text()
    assert (tmp_path / "m" / "conda.yaml").is_file()


PLUGIN = textwrap.dedent(
    """
    import json
    from pathlib import Path

    NAME = "toy"

    class ToyModel:
        def __init__(self, bias):
            self.bias = bias

    def can_save(obj):
        return isinstance(obj, ToyModel)

    def save(obj, path, mlmodel, **kwargs):
        (Path(path) / "toy.json").write_text(json.dumps({"bias": obj.bias}))
        mlmodel.add_flavor(NAME, data="toy.json")
        mlmodel.add_flavor("python_function", loader_module=__name__)
        return []

    def load_native(model_dir, mlmodel):
        return ToyModel(json.loads((Path(model_dir) / "toy.json").read_text())["bias"])

    class _Predictor:
        def __init__(self, model):
            self.model = model
        def predict(self, data, params=None):
            return [v + self.model.bias for v in data["x"]]

    def _load_pyfunc(path):
        return _Predictor(load_native(path, None))
    """
)


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """A flavor installed as a distribution with a `notebook_tracker.flavors` entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toyflavor.py").write_text(PLUGIN)
    dist = site / "toyflavor-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyflavor\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[notebook_tracker.flavors]\ntoy = toyflavor\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(flavors, "_plugins", None)
    yield __import__("toyflavor")
    monkeypatch.setattr(flavors, "_plugins", None)


def test_a_flavor_plugged_in_by_entry_point_saves_loads_and_serves(tmp_path, toy_plugin):
    ntm.save_model(toy_plugin.ToyModel(5), tmp_path / "m")
    assert "toy" in mlmodel(tmp_path / "m")["flavors"]
    assert ntm.load_model(tmp_path / "m").predict(X.head(2)) == [6.0, 7.0]
    assert ntm.load_model(tmp_path / "m", flavor="toy").bias == 5


def test_unknown_flavor_lists_the_known_ones(tmp_path):
    with pytest.raises(Exception, match="Unknown flavor 'nope'.*python_function.*sklearn"):
        ntm.save_model(HasPredict(), tmp_path / "m", flavor="nope")


# -- through the tracking store ----------------------------------------------------------------


def test_log_model_puts_the_model_in_the_run_and_returns_its_uri(tracking_uri):
    with nt.start_run() as run:
        info = ntm.log_model(LinearRegression().fit(X, Y), "model", input_example=X.head(2))
    assert info.model_uri == f"runs:/{run.info.run_id}/model"
    assert info.run_id == run.info.run_id and info.signature is not None
    names = {f.path for f in nt.TrackingClient().list_artifacts(run.info.run_id, "model")}
    assert {"model/MLmodel", "model/model.pkl", "model/input_example.json"} <= names
    model = ntm.load_model(info.model_uri)
    np.testing.assert_allclose(model.predict(X), Y)
    assert model.metadata.run_id == run.info.run_id
    assert model.metadata.artifact_path == "model"
    history = json.loads(nt.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert history[0]["artifact_path"] == "model"


def test_log_model_without_an_active_run_starts_one(tracking_uri):
    info = ntm.log_model(HasPredict(), "m")
    assert nt.active_run().info.run_id == info.run_id
    nt.end_run()


def test_log_model_with_a_registered_name_creates_version_one(tracking_uri):
    with nt.start_run():
        info = ntm.log_model(HasPredict(), "m", registered_model_name="tenx")
    assert info.registered_model_version == 1
    assert ntm.load_model("models:/tenx/1").predict(X.head(1)).tolist() == [10.0]


@pytest.mark.s3
def test_models_in_s3_load_by_run_and_by_s3_uri(tracking_uri, s3_bucket):
    exp = nt.create_experiment("s3", artifact_location=f"s3://{s3_bucket}/exp")
    with nt.start_run(experiment_id=exp) as run:
        info = ntm.log_model(LinearRegression().fit(X, Y), "model")
    np.testing.assert_allclose(ntm.load_model(info.model_uri).predict(X), Y)
    s3_uri = f"{run.info.artifact_uri}/model"
    assert s3_uri.startswith("s3://")
    np.testing.assert_allclose(ntm.load_model(s3_uri).predict(X), Y)


def test_a_uri_without_a_model_says_so(tracking_uri, tmp_path):
    with pytest.raises(InvalidParameter, match="no MLmodel file"):
        ntm.load_model(tmp_path)
    with pytest.raises(InvalidParameter, match="models:/<name>/<version>"):
        ntm.load_model("models:/only-a-name")

"""The model registry: names, versions, tags, aliases and search, in Python, the CLI, and the
REST API as the stock MLflow client uses it; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import notebook_tracker as nt
import notebook_tracker.models as ntm
from notebook_tracker.cli import main as cli
from notebook_tracker.errors import AlreadyExists, InvalidParameter, NotFound
from notebook_tracker.models.registry import RegistryClient, forget_registry_stores

X = pd.DataFrame({"x": [1.0, 2.0]})


class Times:
    def __init__(self, k: float) -> None:
        self.k = k

    def predict(self, frame):
        return frame["x"].to_numpy() * self.k


@pytest.fixture
def registry(store_uri: str, tmp_path: Path, monkeypatch) -> RegistryClient:
    monkeypatch.setenv("NOTEBOOK_TRACKER_URI", store_uri)
    monkeypatch.setenv("NOTEBOOK_TRACKER_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    forget_registry_stores()
    yield RegistryClient(store_uri)
    forget_registry_stores()


def saved(tmp_path: Path, k: float) -> str:
    path = tmp_path / f"times{k}"
    if not path.exists():
        ntm.save_model(Times(k), path)
    return str(path)


def test_versions_count_up_and_are_never_reused(registry, tmp_path):
    m1, m2 = saved(tmp_path, 1), saved(tmp_path, 2)
    assert registry.register_model(m1, "times").version == 1
    assert registry.register_model(m2, "times").version == 2
    registry.delete_model_version("times", 2)
    assert registry.register_model(m2, "times").version == 3
    assert [v.version for v in registry.get_latest_versions("times")] == [3]


def test_aliases_point_at_versions_and_load_through_models_uris(registry, tmp_path):
    registry.register_model(saved(tmp_path, 1), "times")
    registry.register_model(saved(tmp_path, 2), "times")
    registry.set_registered_model_alias("times", "champion", 1)
    registry.set_registered_model_alias("times", "challenger", "2")
    assert registry.get_model_version_by_alias("times", "champion").version == 1
    assert registry.get_registered_model("times").aliases == {"champion": 1, "challenger": 2}
    assert registry.get_model_version("times", 2).aliases == ["challenger"]
    assert ntm.load_model("models:/times@champion").predict(X).tolist() == [1.0, 2.0]
    assert ntm.load_model("models:/times/2").predict(X).tolist() == [2.0, 4.0]
    assert ntm.load_model("models:/times/latest").predict(X).tolist() == [2.0, 4.0]
    registry.set_registered_model_alias("times", "champion", 2)  # moving an alias
    assert ntm.load_model("models:/times@champion").predict(X).tolist() == [2.0, 4.0]
    registry.delete_registered_model_alias("times", "champion")
    with pytest.raises(NotFound, match="no alias 'champion'.*challenger"):
        registry.get_model_version_by_alias("times", "champion")


def test_reserved_and_malformed_names_are_refused(registry, tmp_path):
    registry.register_model(saved(tmp_path, 1), "times")
    with pytest.raises(InvalidParameter, match="reserved"):
        registry.set_registered_model_alias("times", "latest", 1)
    with pytest.raises(InvalidParameter, match="reserved"):
        registry.set_registered_model_alias("times", "v2", 1)
    with pytest.raises(InvalidParameter, match="may not contain '/'"):
        registry.create_registered_model("a/b")
    with pytest.raises(NotFound, match="has no version 9"):
        registry.set_registered_model_alias("times", "x", 9)


def test_descriptions_tags_and_stages_are_kept(registry, tmp_path):
    registry.create_registered_model("times", tags={"team": "ml"}, description="scales x")
    with pytest.raises(AlreadyExists):
        registry.create_registered_model("times")
    registry.register_model(saved(tmp_path, 1), "times", tags={"data": "v1"}, description="first")
    registry.set_registered_model_tag("times", "owner", "ana")
    registry.delete_registered_model_tag("times", "team")
    registry.set_model_version_tag("times", 1, "validated", "yes")
    registry.update_model_version("times", 1, "first, validated")
    registry.transition_model_version_stage("times", 1, "production")
    model = registry.get_registered_model("times")
    assert model.description == "scales x" and model.tags == {"owner": "ana"}
    version = registry.get_model_version("times", 1)
    assert version.tags == {"data": "v1", "validated": "yes"}
    assert version.description == "first, validated"
    assert version.current_stage == "Production"
    assert ntm.load_model("models:/times/Production").predict(X).tolist() == [1.0, 2.0]


def test_search_filters_orders_and_pages(registry, tmp_path):
    for name in ("churn-a", "churn-b", "fraud"):
        registry.register_model(saved(tmp_path, 1), name)
    registry.set_registered_model_tag("fraud", "team", "risk")
    names = [m.name for m in registry.search_registered_models("name LIKE 'churn%'")]
    assert names == ["churn-a", "churn-b"]
    assert [m.name for m in registry.search_registered_models("tags.team = 'risk'")] == ["fraud"]
    first = registry.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in first] == ["fraud", "churn-b"] and first.token
    rest = registry.search_registered_models(
        max_results=2, order_by=["name DESC"], page_token=first.token
    )
    assert [m.name for m in rest] == ["churn-a"] and rest.token is None
    found = registry.search_model_versions("name = 'fraud' AND version_number >= 1")
    assert [(v.name, v.version) for v in found] == [("fraud", 1)]
    with pytest.raises(InvalidParameter, match="unknown identifier"):
        registry.search_registered_models("colour = 'red'")


def test_rename_keeps_versions_tags_and_aliases(registry, tmp_path):
    registry.register_model(saved(tmp_path, 3), "old", tags={"t": "1"})
    registry.set_registered_model_alias("old", "champion", 1)
    registry.rename_registered_model("old", "new")
    assert registry.get_model_version_by_alias("new", "champion").tags == {"t": "1"}
    with pytest.raises(NotFound):
        registry.get_registered_model("old")
    registry.delete_registered_model("new")
    assert list(registry.search_registered_models()) == []


def test_registering_a_run_model_records_the_run(registry):
    with nt.start_run() as run:
        info = ntm.log_model(Times(5), "model")
    version = ntm.register_model(info.model_uri, "five")
    assert version.run_id == run.info.run_id
    assert version.source.endswith("/model")
    assert ntm.search_model_versions(f"run_id = '{run.info.run_id}'")[0].name == "five"
    assert ntm.load_model("models:/five/1").predict(X).tolist() == [5.0, 10.0]


def test_cli_lists_models_versions_and_sets_aliases(registry, tmp_path):
    path = saved(tmp_path, 2)
    runner = CliRunner()
    env = {"NOTEBOOK_TRACKER_URI": registry.tracking_uri}
    result = runner.invoke(cli, ["models", "register", "-m", path, "-n", "times"], env=env)
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output
    result = runner.invoke(cli, ["models", "alias", "times", "champion", "1"], env=env)
    assert result.exit_code == 0 and "models:/times@champion -> version 1" in result.output
    listing = runner.invoke(cli, ["models", "list"], env=env).output
    assert "times" in listing and "champion->v1" in listing
    versions = runner.invoke(cli, ["models", "versions", "times"], env=env).output
    assert "champion" in versions and path in versions
    missing = runner.invoke(cli, ["models", "versions", "nope"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_cli_predict_scores_csv_and_json_files(registry, tmp_path):
    path = saved(tmp_path, 3)
    (tmp_path / "in.csv").write_text("x\n1.5\n2\n")
    (tmp_path / "in.json").write_text('{"dataframe_records": [{"x": 4.0}]}')
    runner = CliRunner()
    out = runner.invoke(cli, ["models", "predict", "-m", path, "-i", str(tmp_path / "in.csv")])
    assert out.exit_code == 0, out.output
    assert '"predictions": [4.5, 6.0]' in out.output
    result = runner.invoke(
        cli,
        ["models", "predict", "-m", path, "-i", str(tmp_path / "in.json"),
         "-o", str(tmp_path / "out.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.json").read_text() == '{"predictions": [12.0]}'


# -- the stock MLflow client against a standalone server -------------------------------------


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    from standalone_server import running_server

    tmp = tmp_path_factory.mktemp("registry-server")
    with running_server(tmp, f"sqlite:///{tmp / 'tracker.db'}", str(tmp / "a"), workers=1) as srv:
        srv.artifacts = tmp / "a"  # type: ignore[attr-defined]
        yield srv


def test_mlflow_client_registers_aliases_searches_and_loads(mlflow_server, tmp_path, monkeypatch):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    client = mlflow.MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    client.create_registered_model("seven", tags={"team": "ml"}, description="times seven")
    outside = saved(tmp_path, 7)  # a source outside the server's artifact store is refused
    with pytest.raises(mlflow.exceptions.MlflowException, match="artifact store") as refused:
        client.create_model_version("seven", outside)
    assert refused.value.get_http_status_code() == 400
    path = saved(mlflow_server.artifacts / "models", 7)
    version = client.create_model_version("seven", path, tags={"k": "7"})
    assert version.version == "1" and version.status == "READY"
    client.set_registered_model_alias("seven", "champion", "1")
    assert client.get_model_version_by_alias("seven", "champion").version == "1"
    model = client.get_registered_model("seven")
    assert model.aliases == {"champion": "1"} and model.tags == {"team": "ml"}
    assert [m.name for m in client.search_registered_models("name LIKE 'sev%'")] == ["seven"]
    assert client.get_model_version_download_uri("seven", "1") == path
    mlflow.set_registry_uri(mlflow_server.url)
    loaded = mlflow.pyfunc.load_model("models:/seven@champion")
    assert loaded.predict(X).tolist() == [7.0, 14.0]
    client.delete_registered_model_alias("seven", "champion")
    client.delete_registered_model("seven")
    with pytest.raises(mlflow.exceptions.MlflowException, match="not found"):
        client.get_registered_model("seven")


def test_a_remote_tracking_uri_logs_registers_and_loads_models(mlflow_server, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_TRACKER_URI", mlflow_server.url)
    forget_registry_stores()
    nt.set_tracking_uri(mlflow_server.url)
    try:
        with nt.start_run():
            info = ntm.log_model(Times(4), "model", registered_model_name="four")
        assert str(info.registered_model_version) == "1"
        ntm.set_registered_model_alias("four", "champion", 1)
        assert ntm.get_model_version_by_alias("four", "champion").version == 1
        assert [m.name for m in ntm.search_registered_models("name = 'four'")] == ["four"]
        assert ntm.load_model("models:/four@champion").predict(X).tolist() == [4.0, 8.0]
        assert ntm.load_model(info.model_uri).predict(X).tolist() == [4.0, 8.0]
    finally:
        nt.set_tracking_uri(None)
        forget_registry_stores()


def test_a_model_logged_and_registered_by_mlflow_3_loads_here_and_there(mlflow_server, monkeypatch):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow = pytest.importorskip("mlflow")
    from sklearn.linear_model import LinearRegression

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_registry_uri(mlflow_server.url)
    # The mlflow module keeps its active experiment across tests; this server is new.
    mlflow.set_experiment("registry-from-mlflow-3")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            LinearRegression().fit(X, [1.0, 2.0]),
            name="m",
            registered_model_name="lr",
            pip_requirements=["scikit-learn"],  # else inferred in a child Python: seconds
        )
    assert str(info.registered_model_version) == "1"
    assert mlflow.pyfunc.load_model("models:/lr/1").predict(X).tolist() == pytest.approx([1, 2])
    forget_registry_stores()
    nt.set_tracking_uri(mlflow_server.url)
    try:
        assert ntm.get_model_version("lr", 1).source.startswith("models:/m-")
        assert ntm.load_model("models:/lr/1").predict(X).tolist() == pytest.approx([1, 2])
    finally:
        nt.set_tracking_uri(None)
        forget_registry_stores()

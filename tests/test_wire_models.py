"""The registry's and logged models' wire format: what the server writes is what the REST
stores read back, in the shape MLflow's client parses (int64 versions as strings, NaN as
"NaN", unset fields left out, a model's aliases as sorted `{alias, version}` pairs)."""

from __future__ import annotations

import json
import math

from notebook_tracker import wire
from notebook_tracker.entities.logged_models import DatasetInput, LoggedModel, ModelMetric
from notebook_tracker.entities.registry import ModelVersion, RegisteredModel
from notebook_tracker.wire import logged_models as lm_wire
from notebook_tracker.wire import registry as reg_wire


def _over_the_wire(payload: dict) -> dict:
    return json.loads(wire.dumps(payload))


def _version(**kw: object) -> ModelVersion:
    fields: dict = {
        "name": "clf",
        "version": 3,
        "creation_timestamp": 1_700_000_000_000,
        "last_updated_timestamp": 1_700_000_000_500,
        "source": "models:/m-abc",
        "run_id": "r1",
        "description": "the good one",
        "user_id": "ana",
        "current_stage": "Staging",
        "run_link": "http://x/r1",
        "model_id": "m-abc",
        "status": "READY",
        "status_message": "ok",
        "tags": {"team": "vision", "empty": ""},
        "aliases": ["champion"],
    }
    fields.update(kw)
    return ModelVersion(**fields)


def test_model_version_survives_server_to_rest_store_round_trip() -> None:
    mv = _version()
    assert reg_wire.model_version_from_json(_over_the_wire(reg_wire.model_version(mv))) == mv


def test_model_version_version_is_an_int64_string_and_unset_fields_are_left_out() -> None:
    out = reg_wire.model_version(
        _version(run_id=None, description=None, run_link=None, tags={}, aliases=[])
    )
    assert out["version"] == "3"
    for absent in ("run_id", "description", "run_link", "tags", "aliases"):
        assert absent not in out


def test_registered_model_round_trips_with_latest_versions_tags_and_aliases() -> None:
    rm = RegisteredModel(
        name="clf",
        creation_timestamp=1,
        last_updated_timestamp=2,
        description="d",
        user_id="ana",
        latest_versions=[_version(), _version(version=4, aliases=[])],
        tags={"k": "v"},
        aliases={"prod": 4, "champion": 3},
    )
    out = _over_the_wire(reg_wire.registered_model(rm))
    assert out["aliases"] == [
        {"alias": "champion", "version": "3"},
        {"alias": "prod", "version": "4"},
    ]
    assert out["tags"] == [{"key": "k", "value": "v"}]
    assert reg_wire.registered_model_from_json(out) == rm


def test_registered_model_reader_fills_mlflow_defaults_for_missing_fields() -> None:
    rm = reg_wire.registered_model_from_json({"name": "bare"})
    assert (rm.name, rm.creation_timestamp, rm.description, rm.aliases) == ("bare", 0, None, {})
    mv = reg_wire.model_version_from_json({"name": "bare", "version": "1"})
    assert (mv.version, mv.current_stage, mv.status, mv.tags) == (1, "None", "READY", {})


def _model(value: float) -> LoggedModel:
    return LoggedModel(
        model_id="m-1",
        experiment_id="0",
        name="net",
        artifact_uri="mlflow-artifacts:/0/models/m-1/artifacts",
        status="READY",
        creation_timestamp_ms=10,
        last_updated_timestamp_ms=20,
        model_type="sklearn",
        source_run_id="r1",
        tags={"t": "1"},
        params={"alpha": "0.5"},
        metrics=[
            ModelMetric(
                key="loss",
                value=value,
                timestamp=5,
                step=2,
                run_id="r1",
                dataset_name="train",
                dataset_digest="abc",
                model_id="m-1",
            )
        ],
    )


def test_logged_model_round_trips_with_tags_in_info_and_params_metrics_in_data() -> None:
    model = _model(0.25)
    out = _over_the_wire(lm_wire.logged_model(model))
    assert out["info"]["tags"] == [{"key": "t", "value": "1"}]
    assert out["data"]["params"] == [{"key": "alpha", "value": "0.5"}]
    assert out["data"]["metrics"][0]["model_id"] == "m-1"
    assert lm_wire.logged_model_from_json(out) == model


def test_logged_model_metric_nan_and_infinity_travel_as_mlflow_strings() -> None:
    for value, text in ((math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")):
        out = _over_the_wire(lm_wire.logged_model(_model(value)))
        assert out["data"]["metrics"][0]["value"] == text
        back = lm_wire.logged_model_from_json(out).metrics[0].value
        assert (math.isnan(back) and math.isnan(value)) or back == value


def test_dataset_input_round_trips_and_leaves_out_unset_schema_and_profile() -> None:
    d = DatasetInput(name="train", digest="abc", source_type="local", source="/d", tags={"a": "b"})
    out = _over_the_wire(lm_wire.dataset_input(d))
    assert out == {
        "tags": [{"key": "a", "value": "b"}],
        "dataset": {"name": "train", "digest": "abc", "source_type": "local", "source": "/d"},
    }
    assert lm_wire.dataset_input_from_json(out) == d
    full = DatasetInput("n", "d", "s", "src", schema='{"x": 1}', profile='{"n": 2}')
    assert lm_wire.dataset_input_from_json(lm_wire.dataset_input(full)) == full

"""Registered models served through the Jupyter server extension (pytest-jupyter): the
invocations route behind Jupyter's token, workers started on first use, restarted after a
crash and stopped on request; the registry and serving endpoints of the native API."""

from __future__ import annotations

import json
import os
import signal
import sys

import pandas as pd
import pytest
import tornado.httpclient

import notebook_tracker as nt
import notebook_tracker.models as ntm
from notebook_tracker.models.registry import RegistryClient, forget_registry_stores

pytest_plugins = ("pytest_jupyter.jupyter_server",)

BODY = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0]]}})


def times(k: float):
    def predict(frame):
        return frame["x"].to_numpy() * k

    return predict


@pytest.fixture
def jp_server_config(tracking_uri: str) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"notebook_tracker": True},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def registry(tracking_uri, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    forget_registry_stores()
    client = RegistryClient(tracking_uri)
    example = pd.DataFrame({"x": [1.0]})
    for k in (2, 3):  # logged to runs: the server serves models from its artifact store only
        info = ntm.log_model(times(k), name=f"times{k}", input_example=example)
        nt.end_run()
        client.register_model(info.model_uri, "times")
    client.set_registered_model_alias("times", "champion", 1)
    yield client
    forget_registry_stores()


@pytest.fixture
def serving(jp_web_app):
    context = jp_web_app.settings["notebook_tracker"]
    yield context
    served = getattr(context, "model_serving", None)
    if served is not None:
        served.close()


async def invoke(jp_fetch, *path: str, **kwargs):
    return await jp_fetch(
        "notebook-tracker", "models", *path, "invocations", method="POST", body=BODY,
        headers={"Content-Type": "application/json", **kwargs.pop("headers", {})},
        raise_error=False, **kwargs,
    )  # fmt: skip


async def test_models_are_served_by_version_alias_and_latest(jp_fetch, registry, serving):
    for path, expected in (("times/1", [2.0, 4.0]), ("times@champion", [2.0, 4.0]),
                           ("times/2", [3.0, 6.0]), ("times", [3.0, 6.0])):  # fmt: skip
        response = await invoke(jp_fetch, path)
        assert response.code == 200, (path, response.body)
        assert json.loads(response.body) == {"predictions": expected}
    served = json.loads((await jp_fetch("notebook-tracker", "api", "serving")).body)["served"]
    assert [(s["name"], s["version"], s["state"]) for s in served] == [
        ("times", 1, "ready"),
        ("times", 2, "ready"),
    ]
    assert served[0]["url"] == "models/times/1/invocations"


async def test_invocations_need_the_jupyter_token(jp_fetch, registry, serving, jp_base_url):
    refused = await invoke(jp_fetch, "times", headers={"Authorization": ""})
    assert refused.code in (401, 403)  # a JSON refusal either way (401 once it says why)
    assert json.loads(refused.body)["error_code"] in ("UNAUTHENTICATED", "PERMISSION_DENIED")
    assert serving.model_serving.served() == []  # nothing was started for it


async def test_scoring_errors_come_back_from_the_worker(jp_fetch, registry, serving):
    response = await jp_fetch(
        "notebook-tracker", "models", "times", "1", "invocations", method="POST",
        body='{"dataframe_records": [{"y": 1}]}', raise_error=False,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert response.code == 400
    assert "missing inputs ['x']" in json.loads(response.body)["message"]
    missing = await invoke(jp_fetch, "nope")
    assert missing.code == 404 and "nope" in json.loads(missing.body)["message"]


async def test_a_crashed_worker_is_restarted_by_the_next_request(jp_fetch, registry, serving):
    assert (await invoke(jp_fetch, "times/1")).code == 200
    (served,) = serving.model_serving.served()
    os.killpg(served["pid"], signal.SIGKILL)
    response = await invoke(jp_fetch, "times/1")
    assert response.code == 200 and json.loads(response.body)["predictions"] == [2.0, 4.0]
    (again,) = serving.model_serving.served()
    assert again["pid"] != served["pid"] and again["restarts"] == 1


async def test_serving_is_started_and_stopped_through_the_api(jp_fetch, registry, serving):
    started = await jp_fetch(
        "notebook-tracker", "api", "serving", "times", "start", method="POST",
        body=json.dumps({"alias": "champion"}),
    )  # fmt: skip
    info = json.loads(started.body)["served"]
    assert info["version"] == 1 and info["state"] == "ready"
    stopped = await jp_fetch(
        "notebook-tracker", "api", "serving", "times", "stop", method="POST", body="{}"
    )
    assert json.loads(stopped.body) == {"stopped": ["times-v1"]}
    listing = json.loads((await jp_fetch("notebook-tracker", "api", "serving")).body)
    assert listing == {"served": [], "serving": {"enabled": True, "registered_only": False}}


async def test_registry_endpoints_list_models_and_versions(jp_fetch, registry, serving):
    data = json.loads((await jp_fetch("notebook-tracker", "api", "models")).body)
    (model,) = data["registered_models"]
    assert model["name"] == "times" and model["aliases"] == {"champion": 1}
    assert [v["version"] for v in model["latest_versions"]] == [2]
    versions = json.loads(
        (await jp_fetch("notebook-tracker", "api", "models", "times", "versions")).body
    )["model_versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["aliases"] == ["champion"]
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("notebook-tracker", "api", "models", "nope")
    assert info.value.code == 404


async def test_mlflow_registry_rest_endpoints_answer_under_the_extension(
    jp_fetch, registry, serving
):
    got = await jp_fetch(
        "notebook-tracker", "api", "2.0", "mlflow", "registered-models", "alias",
        params={"name": "times", "alias": "champion"},
    )  # fmt: skip
    version = json.loads(got.body)["model_version"]
    assert version["version"] == "1" and version["aliases"] == ["champion"]
    uri = await jp_fetch(
        "notebook-tracker", "api", "2.0", "mlflow", "model-versions", "get-download-uri",
        params={"name": "times", "version": "2"},
    )  # fmt: skip
    assert json.loads(uri.body)["artifact_uri"].endswith("times3")


OFF = {
    "ServerApp": {"jpserver_extensions": {"notebook_tracker": True}},
    "NotebookTracker": {"serving_enabled": False},
}


@pytest.mark.parametrize("jp_server_config", [OFF])
async def test_serving_turned_off_by_the_trait_is_a_json_403(
    tracking_uri, jp_server_config, jp_fetch, registry, serving
):
    for response in (
        await invoke(jp_fetch, "times/1"),
        await jp_fetch(
            "notebook-tracker", "api", "serving", "times", "start", method="POST",
            body=json.dumps({"version": "1"}), raise_error=False,
        ),
    ):  # fmt: skip
        assert response.code == 403
        answer = json.loads(response.body)
        assert answer["error_code"] == "PERMISSION_DENIED"
        assert "serving_enabled" in answer["message"]
    listing = json.loads((await jp_fetch("notebook-tracker", "api", "serving")).body)
    assert listing["served"] == [] and listing["serving"]["enabled"] is False
    models = json.loads((await jp_fetch("notebook-tracker", "api", "models")).body)
    assert [m["name"] for m in models["registered_models"]] == ["times"]  # the registry still is


async def test_a_version_from_outside_the_artifact_store_is_refused_under_jupyter(
    jp_fetch, registry, serving, tmp_path
):
    outside = tmp_path / "outside"
    ntm.save_model(times(9), outside)
    response = await jp_fetch(
        "notebook-tracker", "api", "2.0", "mlflow", "model-versions", "create", method="POST",
        body=json.dumps({"name": "times", "source": str(outside)}), raise_error=False,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert response.code == 400
    message = json.loads(response.body)["message"]
    assert "artifact store" in message and str(tmp_path / "artifacts") in message
    # A version registered straight in the store from there is not served either.
    registry.create_model_version("times", str(outside))
    answer = await invoke(jp_fetch, "times/3")
    assert answer.code == 400
    assert "outside every artifact root" in json.loads(answer.body)["message"]


REGISTERED_ONLY = {
    "ServerApp": {"jpserver_extensions": {"notebook_tracker": True}},
    "NotebookTracker": {"serve_registered_only": True},
}


async def start(jp_fetch, name: str, body: dict):
    return await jp_fetch(
        "notebook-tracker", "api", "serving", name, "start", method="POST",
        body=json.dumps(body), raise_error=False,
    )  # fmt: skip


async def test_a_logged_model_is_served_by_uri_under_a_name_of_its_own(jp_fetch, registry, serving):
    run_id = registry.get_model_version("times", 1).run_id
    started = await start(jp_fetch, "adhoc", {"model_uri": f"runs:/{run_id}/times2"})
    assert started.code == 200 and json.loads(started.body)["served"]["version"] is None
    response = await invoke(jp_fetch, "adhoc")
    assert response.code == 200 and json.loads(response.body) == {"predictions": [2.0, 4.0]}
    taken = await start(jp_fetch, "times", {"model_uri": f"runs:/{run_id}/times2"})
    assert taken.code == 400 and "is a registered model" in json.loads(taken.body)["message"]


@pytest.mark.parametrize("jp_server_config", [REGISTERED_ONLY])
async def test_registered_only_trait_refuses_a_model_uri(
    tracking_uri, jp_server_config, jp_fetch, registry, serving
):
    run_id = registry.get_model_version("times", 1).run_id
    refused = await start(jp_fetch, "adhoc", {"model_uri": f"runs:/{run_id}/times2"})
    assert refused.code == 403
    assert "serve_registered_only" in json.loads(refused.body)["message"]
    assert (await invoke(jp_fetch, "times/1")).code == 200  # registered versions still serve

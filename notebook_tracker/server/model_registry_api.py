"""MLflow's model registry endpoints (`api/2.0/mlflow/registered-models/*`, `model-versions/*`),
as plain endpoint functions served by the MLflow-compatible handler.

Stages are kept for old clients; aliases replace them. Versions are READY when created (files
are not copied), so clients polling for READY stop at once. A version's source must lie in
this server's artifact store (`models.sources`): anything else is a 400 naming what is allowed.
"""

from __future__ import annotations

from typing import Any

from notebook_tracker import wire
from notebook_tracker.models.registry import RegistryClient
from notebook_tracker.server.mlflow_api import request
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.service import MlflowApi
from notebook_tracker.wire.registry import model_version, registered_model

MAX_RESULTS_MODELS = 1000
MAX_RESULTS_VERSIONS = 200_000


def _registry(api: MlflowApi) -> RegistryClient:
    return api.registry


def _tags(req: Params) -> dict[str, str]:
    return dict(req.key_values("tags", value_required=False))


def _max_results(req: Params, default: int, limit: int) -> int:
    value = req.int64("max_results", default=default)
    if value is None or value < 1 or value > limit:
        raise request.invalid("max_results", value, f"a number from 1 to {limit}")
    return value


# -- registered models ---------------------------------------------------------------------------
def create_model(api: Any, req: Params) -> dict[str, Any]:
    rm = _registry(api).create_registered_model(
        req.require("name"), _tags(req), req.string("description")
    )
    return {"registered_model": registered_model(rm)}


def get_model(api: Any, req: Params) -> dict[str, Any]:
    rm = _registry(api).get_registered_model(req.require("name"))
    return {"registered_model": registered_model(rm)}


def rename_model(api: Any, req: Params) -> dict[str, Any]:
    rm = _registry(api).rename_registered_model(req.require("name"), req.require("new_name"))
    return {"registered_model": registered_model(rm)}


def update_model(api: Any, req: Params) -> dict[str, Any]:
    rm = _registry(api).update_registered_model(req.require("name"), req.string("description"))
    return {"registered_model": registered_model(rm)}


def delete_model(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).delete_registered_model(req.require("name"))
    return {}


def search_models(api: Any, req: Params) -> dict[str, Any]:
    page = _registry(api).search_registered_models(
        req.string("filter") or None,
        _max_results(req, 100, MAX_RESULTS_MODELS),
        req.strings("order_by") or None,
        req.string("page_token") or None,
    )
    return wire.compact(
        {"registered_models": [registered_model(m) for m in page], "next_page_token": page.token}
    )


def latest_versions(api: Any, req: Params) -> dict[str, Any]:
    found = _registry(api).get_latest_versions(req.require("name"), req.strings("stages") or None)
    return {"model_versions": [model_version(v) for v in found]}


def set_model_tag(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).set_registered_model_tag(
        req.require("name"), req.require("key"), req.string("value") or ""
    )
    return {}


def delete_model_tag(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).delete_registered_model_tag(req.require("name"), req.require("key"))
    return {}


def set_alias(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).set_registered_model_alias(
        req.require("name"), req.require("alias"), req.require("version")
    )
    return {}


def delete_alias(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).delete_registered_model_alias(req.require("name"), req.require("alias"))
    return {}


def get_by_alias(api: Any, req: Params) -> dict[str, Any]:
    mv = _registry(api).get_model_version_by_alias(req.require("name"), req.require("alias"))
    return {"model_version": model_version(mv)}


# -- model versions ------------------------------------------------------------------------------
def create_version(api: Any, req: Params) -> dict[str, Any]:
    from notebook_tracker.models.sources import for_context

    source = for_context(api.context).accept(req.require("source"))  # only from its store
    mv = _registry(api).store.create_model_version(
        req.require("name"),
        source,
        run_id=req.string("run_id") or None,
        tags=_tags(req),
        run_link=req.string("run_link") or None,
        description=req.string("description") or None,
        model_id=req.string("model_id") or None,
    )
    return {"model_version": model_version(mv)}


def get_version(api: Any, req: Params) -> dict[str, Any]:
    mv = _registry(api).get_model_version(req.require("name"), req.require("version"))
    return {"model_version": model_version(mv)}


def update_version(api: Any, req: Params) -> dict[str, Any]:
    mv = _registry(api).update_model_version(
        req.require("name"), req.require("version"), req.string("description")
    )
    return {"model_version": model_version(mv)}


def delete_version(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).delete_model_version(req.require("name"), req.require("version"))
    return {}


def search_versions(api: Any, req: Params) -> dict[str, Any]:
    page = _registry(api).search_model_versions(
        req.string("filter") or None,
        _max_results(req, 10_000, MAX_RESULTS_VERSIONS),
        req.strings("order_by") or None,
        req.string("page_token") or None,
    )
    return wire.compact(
        {"model_versions": [model_version(v) for v in page], "next_page_token": page.token}
    )


def download_uri(api: Any, req: Params) -> dict[str, Any]:
    uri = _registry(api).get_model_version_download_uri(req.require("name"), req.require("version"))
    return {"artifact_uri": uri}


def transition_stage(api: Any, req: Params) -> dict[str, Any]:
    mv = _registry(api).transition_model_version_stage(
        req.require("name"),
        req.require("version"),
        req.require("stage"),
        req.boolean("archive_existing_versions"),
    )
    return {"model_version": model_version(mv)}


def set_version_tag(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).set_model_version_tag(
        req.require("name"), req.require("version"), req.require("key"), req.string("value") or ""
    )
    return {}


def delete_version_tag(api: Any, req: Params) -> dict[str, Any]:
    _registry(api).delete_model_version_tag(
        req.require("name"), req.require("version"), req.require("key")
    )
    return {}


ROUTES = [
    ("POST", "registered-models/create", create_model),
    ("GET", "registered-models/get", get_model),
    ("POST", "registered-models/rename", rename_model),
    ("PATCH", "registered-models/update", update_model),
    ("DELETE", "registered-models/delete", delete_model),
    ("GET", "registered-models/search", search_models),
    ("GET", "registered-models/get-latest-versions", latest_versions),
    ("POST", "registered-models/get-latest-versions", latest_versions),
    ("POST", "registered-models/set-tag", set_model_tag),
    ("DELETE", "registered-models/delete-tag", delete_model_tag),
    ("POST", "registered-models/alias", set_alias),
    ("DELETE", "registered-models/alias", delete_alias),
    ("GET", "registered-models/alias", get_by_alias),
    ("POST", "model-versions/create", create_version),
    ("GET", "model-versions/get", get_version),
    ("PATCH", "model-versions/update", update_version),
    ("DELETE", "model-versions/delete", delete_version),
    ("GET", "model-versions/search", search_versions),
    ("GET", "model-versions/get-download-uri", download_uri),
    ("POST", "model-versions/transition-stage", transition_stage),
    ("POST", "model-versions/set-tag", set_version_tag),
    ("DELETE", "model-versions/delete-tag", delete_version_tag),
]


def registry_rules(prefix: str, context: Any) -> list[tuple[Any, ...]]:
    """Tornado rules for ROUTES under `{prefix}api/2.0/mlflow/` (and `ajax-api/`)."""
    from notebook_tracker.server.mlflow_api.handler import MlflowEndpointHandler
    from notebook_tracker.server.mlflow_api.service import MlflowApi

    api = MlflowApi(context)
    by_path: dict[str, dict[str, Any]] = {}
    for method, path, fn in ROUTES:
        by_path.setdefault(path, {})[method] = fn
    return [
        (
            prefix + r"(?:ajax-)?api/2\.0/mlflow/" + path.replace(".", r"\.") + "/?",
            MlflowEndpointHandler,
            {"endpoints": endpoints, "api": api},
        )
        for path, endpoints in by_path.items()
    ]

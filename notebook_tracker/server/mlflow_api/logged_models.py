"""MLflow 3's LoggedModel endpoints (`/api/2.0/mlflow/logged-models...`), needed by log_model.

The client creates a PENDING model, uploads its files through the artifact proxy to the
model's `artifact_uri`, links it to the run (`runs/outputs`) and finalizes it READY.
"""

from __future__ import annotations

from typing import Any

from notebook_tracker import wire
from notebook_tracker.entities import logged_models as lm
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.server.mlflow_api import request
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.service import MlflowApi
from notebook_tracker.store.logged_model_base import SEARCH_MAX_RESULTS_DEFAULT
from notebook_tracker.wire.logged_models import logged_model

STATUSES = ("LOGGED_MODEL_STATUS_UNSPECIFIED", *lm.STATUSES)


def _pairs(req: Params, name: str) -> dict[str, str]:
    """Keys and values are checked by the store."""
    return dict(req.key_values(name, value_required=False))


def create(api: MlflowApi, req: Params) -> dict[str, Any]:
    model = api.models.create(
        req.require("experiment_id"),
        name=req.string("name") or None,
        model_type=req.string("model_type") or None,
        source_run_id=req.string("source_run_id") or None,
        params=_pairs(req, "params"),
        tags=_pairs(req, "tags"),
    )
    return {"model": logged_model(model)}


def get(api: MlflowApi, req: Params) -> dict[str, Any]:
    return {"model": logged_model(api.models.get(req.require("model_id")))}


def finalize(api: MlflowApi, req: Params) -> dict[str, Any]:
    status = req.enum("status", STATUSES, first=0)
    if status is None:
        raise request.missing("status")
    return {"model": logged_model(api.models.finalize(req.require("model_id"), status))}


def delete(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.models.delete(req.require("model_id"))
    return {}


def set_tags(api: MlflowApi, req: Params) -> dict[str, Any]:
    model = api.models.set_tags(req.require("model_id"), _pairs(req, "tags"))
    return {"model": logged_model(model)}


def delete_tag(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.models.delete_tag(req.require("model_id"), req.require("tag_key"))
    return {}


def log_params(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.models.log_params(req.require("model_id"), _pairs(req, "params"))
    return {}


def search(api: MlflowApi, req: Params) -> dict[str, Any]:
    experiment_ids = req.strings("experiment_ids")
    if not experiment_ids:
        raise request.missing("experiment_ids")
    if req.messages("datasets"):
        raise InvalidParameter(
            "Searching logged models by dataset is not supported by this server; filter on "
            "name, status, params, tags or metrics instead."
        )
    order_by = []
    for term in req.messages("order_by"):
        order_by.append((term.require("field_name"), term.boolean("ascending", True)))
    page = api.models.search(
        experiment_ids,
        req.string("filter") or None,
        order_by,
        req.int64("max_results", default=SEARCH_MAX_RESULTS_DEFAULT),
        req.string("page_token") or None,
    )
    return wire.compact({"models": [logged_model(m) for m in page], "next_page_token": page.token})


def list_artifacts(api: MlflowApi, req: Params) -> dict[str, Any]:
    model = api.models.get(req.require("model_id"))
    repo = api.artifact_repository(model.artifact_uri)
    files = repo.list_artifacts(req.string("artifact_directory_path") or None)
    return wire.compact(
        {"root_uri": model.artifact_uri, "files": [wire.file_info(f) for f in files]}
    )


_ID = r"(?P<model_id>[^/]+)"
ROUTES = [
    ("POST", "logged-models", create),
    ("POST", "logged-models/search", search),
    ("GET", f"logged-models/{_ID}", get),
    ("PATCH", f"logged-models/{_ID}", finalize),
    ("DELETE", f"logged-models/{_ID}", delete),
    ("PATCH", f"logged-models/{_ID}/tags", set_tags),
    ("DELETE", f"logged-models/{_ID}/tags/(?P<tag_key>.+)", delete_tag),
    ("POST", f"logged-models/{_ID}/params", log_params),
    ("GET", f"logged-models/{_ID}/artifacts/directories", list_artifacts),
]

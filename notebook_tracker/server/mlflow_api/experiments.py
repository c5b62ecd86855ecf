"""MLflow-compatible experiment endpoints (`/api/2.0/mlflow/experiments/...`)."""

from __future__ import annotations

from typing import Any

from notebook_tracker import validation
from notebook_tracker.entities import ViewType
from notebook_tracker.errors import NotFound
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.service import MlflowApi
from notebook_tracker.wire import compact, experiment

VIEW_TYPES = (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL)
SEARCH_DEFAULT_MAX_RESULTS = 1000


def _tags(req: Params) -> dict[str, str]:
    tags = {}
    for key, value in req.key_values("tags"):
        validation.validate_key(key, "tag")
        tags[key] = validation.tag_value(value, key)
    return tags


def create(api: MlflowApi, req: Params) -> dict[str, Any]:
    name = req.require("name")
    location = req.string("artifact_location") or None
    experiment_id = api.store.create_experiment(
        name,
        api.context.accept_location(location) if location is not None else None,
        _tags(req),
    )
    return {"experiment_id": experiment_id}


def get(api: MlflowApi, req: Params) -> dict[str, Any]:
    experiment_id = req.require("experiment_id")
    return {"experiment": experiment(api.store.get_experiment(experiment_id))}


def get_by_name(api: MlflowApi, req: Params) -> dict[str, Any]:
    name = req.require("experiment_name")
    found = api.store.get_experiment_by_name(name)
    if found is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment(found)}


def search(api: MlflowApi, req: Params) -> dict[str, Any]:
    page = api.store.search_experiments(
        view_type=req.enum("view_type", VIEW_TYPES) or ViewType.ACTIVE_ONLY,
        max_results=req.int64("max_results", default=SEARCH_DEFAULT_MAX_RESULTS),
        filter_string=req.string("filter") or None,
        order_by=req.strings("order_by") or None,
        page_token=req.string("page_token") or None,
    )
    return compact({"experiments": [experiment(e) for e in page], "next_page_token": page.token})


def delete(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.store.delete_experiment(req.require("experiment_id"))
    return {}


def restore(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.store.restore_experiment(req.require("experiment_id"))
    return {}


def update(api: MlflowApi, req: Params) -> dict[str, Any]:
    experiment_id = req.require("experiment_id")
    new_name = req.string("new_name")
    if new_name:
        api.store.rename_experiment(experiment_id, new_name)
    else:
        api.store.get_experiment(experiment_id)
    return {}


def set_tag(api: MlflowApi, req: Params) -> dict[str, Any]:
    experiment_id = req.require("experiment_id")
    key = validation.validate_key(req.require("key"), "tag")
    value = validation.tag_value(req.string("value", default=""), key)
    api.store.set_experiment_tag(experiment_id, key, value)
    return {}


def delete_tag(api: MlflowApi, req: Params) -> dict[str, Any]:
    experiment_id = req.require("experiment_id")
    key = req.require("key")
    api.store.delete_experiment_tag(experiment_id, key)
    return {}


ROUTES = [
    ("POST", "experiments/create", create),
    ("GET", "experiments/get", get),
    ("GET", "experiments/get-by-name", get_by_name),
    ("POST", "experiments/search", search),
    ("GET", "experiments/search", search),
    ("POST", "experiments/delete", delete),
    ("POST", "experiments/restore", restore),
    ("POST", "experiments/update", update),
    ("POST", "experiments/set-experiment-tag", set_tag),
    ("POST", "experiments/delete-experiment-tag", delete_tag),
]

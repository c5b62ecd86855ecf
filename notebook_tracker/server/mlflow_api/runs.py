"""MLflow-compatible run endpoints: create/get/update/delete/restore/search and logging."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from notebook_tracker import wire
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import Metric, Param, RunStatus, RunTag, ViewType
from notebook_tracker.entities.logged_models import DatasetInput
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.server.ingest import group_writer
from notebook_tracker.server.mlflow_api import request
from notebook_tracker.server.mlflow_api.batch_read import (
    Batch,
    batch_rows,
    read_batch,
    read_metric,
    split_model_metrics,
)
from notebook_tracker.server.mlflow_api.request import Params
from notebook_tracker.server.mlflow_api.service import MlflowApi
from notebook_tracker.server.mlflow_api.sync_calls import (
    Points,
    points_in,
    write_if_lone,
    write_params_tags,
)
from notebook_tracker.store.base import TrackingStore

VIEW_TYPES = (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL)
SEARCH_DEFAULT_MAX_RESULTS = 1000
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256


def _tag(key: str, value: str) -> RunTag:
    return RunTag(key, value)  # keys and values are checked by the store (store/rules.py)


def _param(key: str, value: str) -> Param:
    return Param(key, value)


# -- runs ----------------------------------------------------------------------------------------
def create(api: MlflowApi, req: Params) -> dict[str, Any]:
    tags = [_tag(k, v) for k, v in req.key_values("tags", value_required=False)]
    tag_map = {t.key: t.value for t in tags}
    user_id = req.string("user_id", max_length=MAX_USER_ID_LENGTH)
    user_id = user_id or tag_map.get("mlflow.user") or "unknown"
    run = api.store.create_run(
        req.string("experiment_id") or "0",
        user_id=user_id,
        start_time=req.int64("start_time") or now_ms(),
        tags=tag_map,
        run_name=req.string("run_name", max_length=MAX_RUN_NAME_LENGTH) or None,
        parent_run_id=tag_map.get("mlflow.parentRunId") or None,
        record_owner=False,  # the remote client owns it and ends it, not this server worker
    )
    return {"run": api.run_json(run)}


def get(api: MlflowApi, req: Params) -> dict[str, Any]:
    return {"run": api.run_json(api.store.get_run(req.run_id()))}


def update(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    status = req.enum("status", RunStatus.ALL)
    info = api.store.update_run_info(
        run_id,
        status=status,
        end_time=req.int64("end_time"),
        run_name=req.string("run_name", max_length=MAX_RUN_NAME_LENGTH) or None,
        record_owner=False,
    )
    return {"run_info": wire.run_info(info)}


def delete(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.store.delete_run(req.run_id())
    return {}


def restore(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.store.restore_run(req.run_id())
    return {}


def search(api: MlflowApi, req: Params) -> dict[str, Any]:
    page = api.store.search_runs(
        req.strings("experiment_ids"),
        filter_string=req.string("filter") or None,
        run_view_type=req.enum("run_view_type", VIEW_TYPES) or ViewType.ACTIVE_ONLY,
        max_results=req.int64("max_results", default=SEARCH_DEFAULT_MAX_RESULTS),
        order_by=req.strings("order_by") or None,
        page_token=req.string("page_token") or None,
    )
    return wire.compact({"runs": api.runs_json(page), "next_page_token": page.token})


# -- logging -------------------------------------------------------------------------------------
async def log_metric(api: MlflowApi, req: Params) -> dict[str, Any]:
    if not await write_if_lone(api, 1, functools.partial(_one_point, req), req.notice):
        await api.context.run(_log_metric, api, req)
    return {}


def _one_point(req: Params) -> Points:
    run_id = req.run_id()
    return (run_id, *split_model_metrics(run_id, [read_metric(req)]))


def _log_metric(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    metrics, model_metrics = split_model_metrics(run_id, [read_metric(req)])
    if not model_metrics and _grouped(api, run_id, metrics):
        return {}
    api.store.log_batch(run_id, metrics=metrics, model_metrics=model_metrics)
    return {}


def _grouped(api: MlflowApi, run_id: str, metrics: list[Metric]) -> bool:
    """Write a metrics-only request through the worker's group commit (server/ingest.py):
    concurrent requests share one transaction. False when the store has none.

    (A log-batch of points only is read on the writer thread itself: `log_batch`.) These
    points are read and handed over from the server's pool, not the IO loop: with the loop
    parsing the next request while the writer thread waits for the interpreter, groups came
    out smaller and JSON log-batch at 4 connections slower (measured, loaded machine)."""
    writer = group_writer(api.store) if metrics else None
    if writer is None:
        return False
    writer.write(rows=[(run_id, m.key, m.value, m.timestamp, m.step) for m in metrics])
    return True


# Params and tags are written by coroutines: read on the IO loop, then committed right there if
# nothing else is writing, else on the worker's writer thread (server/ingest.py).
async def _write(api: MlflowApi, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """A store write on the worker's writer thread where the store has one writer (SQLite),
    else on the server's pool (concurrent transactions on PostgreSQL, a remote store)."""
    writer = group_writer(await api.opened_store())
    if writer is None or not writer.serial:
        await api.context.run(fn, *args, **kwargs)
        return
    await writer.call_async(functools.partial(fn, *args, **kwargs))


async def log_param(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    value = req.string("value", required=True)
    param = _param(req.require("key"), value or "")
    await write_params_tags(api, run_id, params=[param], notice=req.notice)
    return {}


async def set_tag(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    value = req.string("value", required=True)
    tag = _tag(req.require("key"), value or "")
    await write_params_tags(api, run_id, tags=[tag], notice=req.notice)
    return {}


def delete_tag(api: MlflowApi, req: Params) -> dict[str, Any]:
    api.store.delete_tag(req.run_id(), req.require("key"))
    return {}


async def log_batch(api: MlflowApi, req: Params) -> dict[str, Any]:
    if not req.raw("params") and not req.raw("tags"):  # points only: as log_metric
        points = points_in(req.raw("metrics"))
        if await write_if_lone(api, points, lambda: _points(req), req.notice):
            return {}
        writer = group_writer(await api.opened_store())  # read on its thread: two hops, not four
        if writer is not None and await writer.read_async(lambda: batch_rows(req), points):
            return {}
        return await api.context.run(_log_points, api, req)
    batch = read_batch(req)
    if not (batch.metrics or batch.model_metrics):  # our client's log_param and set_tag
        await write_params_tags(api, batch.run_id, batch.params, batch.tags, req.notice)
        return {}
    store = await api.opened_store()
    await _write(api, _store_batch, store, batch)
    return {}


def _points(req: Params) -> Points:
    batch = read_batch(req)
    return batch.run_id, batch.metrics, batch.model_metrics


def _log_points(api: MlflowApi, req: Params) -> dict[str, Any]:
    """A log-batch without params or tags, read and written from the server's pool."""
    batch = read_batch(req)
    if not (batch.points_only() and _grouped(api, batch.run_id, batch.metrics)):
        _store_batch(api.store, batch)
    return {}


def _store_batch(store: TrackingStore, batch: Batch) -> None:
    store.log_batch(  # one transaction: the run's points, params, tags and the models'
        batch.run_id,
        metrics=batch.metrics,
        params=batch.params,
        tags=batch.tags,
        model_metrics=batch.model_metrics,
    )


def log_inputs(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    api.store.get_run(run_id)
    datasets = []
    for item in req.messages("datasets"):
        dataset = item.message("dataset")
        if dataset is None:
            raise request.missing("datasets.dataset")
        datasets.append(
            DatasetInput(
                name=dataset.require("name"),  # lengths are checked by the store
                digest=dataset.require("digest"),
                source_type=dataset.require("source_type"),
                source=dataset.require("source"),
                schema=dataset.string("schema") or None,
                profile=dataset.string("profile") or None,
                tags=dict(item.key_values("tags", value_required=False)),
            )
        )
    api.models.log_datasets(run_id, datasets)
    models = [(m.require("model_id"), 0) for m in req.messages("models")]
    api.models.link_run(run_id, models, "input")
    return {}


def log_outputs(api: MlflowApi, req: Params) -> dict[str, Any]:
    run_id = req.run_id()
    api.store.get_run(run_id)
    models = [(m.require("model_id"), m.int64("step") or 0) for m in req.messages("models")]
    api.models.link_run(run_id, models, "output")
    return {}


def log_model(api: MlflowApi, req: Params) -> dict[str, Any]:
    """MLflow 2.x clients record each logged model's MLmodel (as JSON) in a run tag."""
    run_id = req.run_id()
    model_json = req.require("model_json")
    try:
        model = json.loads(model_json)
    except ValueError:
        raise InvalidParameter("model_json is not valid JSON: send the MLmodel as JSON.") from None
    if not isinstance(model, dict):
        raise InvalidParameter("model_json must be a JSON object (the MLmodel as JSON).")
    run = api.store.get_run(run_id)
    try:
        history = json.loads(run.data.tags.get(LOG_MODEL_HISTORY_TAG, "[]"))
    except ValueError:
        history = []
    if not isinstance(history, list):
        history = []
    history.append(model)
    api.store.log_batch(
        run_id, tags=[_tag(LOG_MODEL_HISTORY_TAG, json.dumps(history, separators=(",", ":")))]
    )
    return {}


ROUTES = [
    ("POST", "runs/create", create),
    ("GET", "runs/get", get),
    ("POST", "runs/update", update),
    ("POST", "runs/delete", delete),
    ("POST", "runs/restore", restore),
    ("POST", "runs/search", search),
    ("GET", "runs/search", search),
    ("POST", "runs/log-metric", log_metric),
    ("POST", "runs/log-parameter", log_param),
    ("POST", "runs/set-tag", set_tag),
    ("POST", "runs/delete-tag", delete_tag),
    ("POST", "runs/log-batch", log_batch),
    ("POST", "runs/log-inputs", log_inputs),
    ("POST", "runs/outputs", log_outputs),
    ("POST", "runs/log-model", log_model),
]

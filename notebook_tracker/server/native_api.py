"""The native REST API under `{prefix}api/`: what the sidebar and scripts read.

Thin handlers: parse and check the request, call the TrackingClient on the server's pool,
shape the JSON. Shapes are documented in `openapi.json`, served at `api/openapi.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import tornado.web

from notebook_tracker.downsample import DEFAULT_MAX_POINTS, downsample_history
from notebook_tracker.entities import Experiment, Run, ViewType
from notebook_tracker.errors import BadRequest
from notebook_tracker.server.base import (
    JSON_TYPE,
    finite_or_none,
)
from notebook_tracker.server.context import TrackerContext
from notebook_tracker.server.ingest_api import IngestHandler
from notebook_tracker.server.native_artifacts import ArtifactListHandler, ArtifactRawHandler
from notebook_tracker.server.native_base import ApiHandler
from notebook_tracker.store.sql import SqlStore
from notebook_tracker.store.sql_run_count import count_runs
from notebook_tracker.store.sql_run_rows import SearchCancelled, search_run_rows

MAX_RESULTS_LIMIT = 50000
MAX_POINTS_LIMIT = 1_000_000


# -- JSON shapes -------------------------------------------------------------------------------
def experiment_json(exp: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage,
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
        "tags": dict(exp.tags),
    }


def run_json(run: Run) -> dict[str, Any]:
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "user_id": info.user_id,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
        "parent_run_id": run.parent_run_id,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
    }


def split_order_by(values: list[str]) -> list[str]:
    """`order_by` terms from repeated parameters, each possibly comma-separated.

    Commas inside backticks or quotes belong to a key (`params.\\`a,b\\``), not between terms.
    """
    terms: list[str] = []
    for value in values:
        current: list[str] = []
        quote = ""
        for ch in value:
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "`\"'":
                quote = ch
            elif ch == ",":
                terms.append("".join(current))
                current = []
                continue
            current.append(ch)
        terms.append("".join(current))
    return [t.strip() for t in terms if t.strip()]


# -- handlers ----------------------------------------------------------------------------------
class ExperimentsHandler(ApiHandler):
    query_params = frozenset({"view", "max_results", "filter", "order_by", "page_token"})

    @tornado.web.authenticated
    async def get(self) -> None:
        page = await self.run(
            self.context.client.search_experiments,
            view_type=self.view_arg(),
            max_results=self.int_arg("max_results", 1000, 1, MAX_RESULTS_LIMIT),
            filter_string=self.str_arg("filter") or None,
            order_by=split_order_by(self.get_query_arguments("order_by")) or None,
            page_token=self.str_arg("page_token") or None,
        )
        self.write_json(
            {"experiments": [experiment_json(e) for e in page], "next_page_token": page.token}
        )


class RunsHandler(ApiHandler):
    query_params = frozenset(
        {
            "experiment_ids",
            "filter",
            "order_by",
            "max_results",
            "page_token",
            "view",
            "tags",
            "count",
            "param_order",
        }
    )
    _gone = False

    def on_connection_close(self) -> None:
        # The sidebar aborts a page it no longer needs (a new filter): stop reading it.
        self._gone = True
        super().on_connection_close()

    @tornado.web.authenticated
    async def get(self) -> None:
        view = self.view_arg()
        ids = [i.strip() for i in (self.str_arg("experiment_ids") or "").split(",") if i.strip()]
        for exp_id in ids:
            if not (exp_id.isascii() and exp_id.isdigit()):
                raise BadRequest(
                    f"Query parameter 'experiment_ids' must be comma-separated experiment ids, "
                    f"got {exp_id!r}."
                )
        max_results = self.int_arg("max_results", 100, 1, MAX_RESULTS_LIMIT)
        filter_string = self.str_arg("filter") or ""
        order_by = split_order_by(self.get_query_arguments("order_by")) or None
        page_token = self.str_arg("page_token") or None
        tags = self.str_arg("tags", "all")
        if tags not in ("all", "none"):
            raise BadRequest(
                f"Query parameter 'tags' must be 'all' or 'none' (no tags, for long lists), "
                f"got {tags!r}."
            )
        count = self.str_arg("count", "false")
        if count not in ("true", "false"):
            raise BadRequest(
                f"Query parameter 'count' must be 'true' (also count every matching run) or "
                f"'false', got {count!r}."
            )
        param_order = self.str_arg("param_order", "text")
        if param_order not in ("text", "numbers"):
            raise BadRequest(
                f"Query parameter 'param_order' must be 'text' (params ordered as text, as "
                f"MLflow does) or 'numbers' (numbers by value, before text), got {param_order!r}."
            )
        search = (filter_string, view, max_results, order_by, page_token)
        try:
            text = await self.run(
                _runs_page_json,
                self.context,
                ids,
                search,
                tags == "all",
                lambda: self._gone,
                count == "true",
                param_order == "numbers",
            )
        except SearchCancelled:
            return
        # Encoded on the pool: a page of 5,000 runs would hold the IO loop for a while.
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(text)


def _runs_page_json(
    context: TrackerContext,
    ids: list[str],
    search: tuple[Any, ...],
    with_tags: bool,
    cancelled: Callable[[], bool],
    with_count: bool = False,
    number_aware: bool = False,
) -> str:
    ids = _experiment_scope(context, ids, search[1])
    rows: list[dict[str, Any]] = []
    token = None
    if ids and isinstance(context.store, SqlStore):
        rows, token = search_run_rows(
            context.store,
            ids,
            *search,
            with_tags=with_tags,
            cancelled=cancelled,
            number_aware=number_aware,
        )
    elif ids:
        page = context.client.search_runs(ids, *search)
        rows, token = [run_json(r) for r in page], page.token
        if not with_tags:
            for row in rows:
                row["tags"] = {}
    data: dict[str, Any] = {"runs": rows, "next_page_token": token, "total": None}
    if with_count:
        data["total"], data["total_exact"] = _count(context, ids, search[0], search[1])
    try:
        return json.dumps(data, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(finite_or_none(data), allow_nan=False, separators=(",", ":"))


def _count(
    context: TrackerContext, ids: list[str], filter_string: str, view: str
) -> tuple[int | None, bool]:
    """(runs matching, exact); (None, False) where the store cannot count (a remote one)."""
    if not ids:
        return 0, True
    if isinstance(context.store, SqlStore):
        return count_runs(context.store, ids, filter_string, view)
    return None, False


def _experiment_scope(context: TrackerContext, ids: list[str], view_type: str) -> list[str]:
    """The experiments searched: those asked for, or every one (deleted too for deleted runs)."""
    if ids:
        return ids
    client = context.client
    view = ViewType.ACTIVE_ONLY if view_type == ViewType.ACTIVE_ONLY else ViewType.ALL
    token = None
    while True:
        exps = client.search_experiments(view_type=view, max_results=1000, page_token=token)
        ids.extend(e.experiment_id for e in exps)
        token = exps.token
        if not token:
            return ids


class RunHandler(ApiHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        run = await self.run(self.context.client.get_run, run_id)
        self.write_json({"run": run_json(run)})

    @tornado.web.authenticated
    async def delete(self, run_id: str) -> None:
        await self.run(self.context.client.delete_run, run_id)
        self.write_json({})


class MetricKeysHandler(ApiHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        run = await self.run(self.context.client.get_run, run_id)
        self.write_json({"metrics": sorted(run.data.metrics)})


class MetricHistoryHandler(ApiHandler):
    query_params = frozenset({"max_points", "x"})

    @tornado.web.authenticated
    async def get(self, run_id: str, key: str) -> None:
        max_points = self.int_arg("max_points", DEFAULT_MAX_POINTS, 4, MAX_POINTS_LIMIT)
        x = self.str_arg("x", "step")
        if x not in ("step", "timestamp"):
            raise BadRequest(f"Query parameter 'x' must be 'step' or 'timestamp', got {x!r}.")
        payload = await self.run(_history, self.context, run_id, key, max_points, x)
        self.write_json(payload)


def _history(
    context: TrackerContext, run_id: str, key: str, max_points: int, x: str
) -> dict[str, Any]:
    history = context.store.get_metric_history(run_id, key)
    steps = getattr(history, "steps", None)
    if steps is None:  # a store returning plain Metric lists
        points = list(history)
        steps = [m.step for m in points]
        timestamps = [m.timestamp for m in points]
        values = [m.value for m in points]
    else:
        timestamps, values = history.timestamps, history.values
    return {"key": key, **downsample_history(steps, timestamps, values, max_points, x)}


@cache
def openapi_text() -> str:
    return resources.files("notebook_tracker.server").joinpath("openapi.json").read_text("utf-8")


class OpenApiHandler(ApiHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(openapi_text())


def native_handlers(prefix: str, context: TrackerContext) -> list[tuple[Any, ...]]:
    api = prefix + "api/"
    run = api + r"runs/([^/]+)"
    return [
        (api + "openapi.json", OpenApiHandler),
        (api + "ingest", IngestHandler),
        (api + "experiments", ExperimentsHandler),
        (api + "runs", RunsHandler),
        (run, RunHandler),
        (run + "/metrics", MetricKeysHandler),
        (run + r"/metrics/(.+)/history", MetricHistoryHandler),
        (run + "/artifacts", ArtifactListHandler),
        (run + r"/artifacts/raw/(.+)", ArtifactRawHandler),
    ]

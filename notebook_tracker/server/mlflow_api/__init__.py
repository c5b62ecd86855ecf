"""The MLflow-compatible REST API: what the stock `mlflow` client calls, under `api/2.0/mlflow/`.

`mlflow_handlers(prefix, context)` gives the tornado rules: the JSON endpoints of
`experiments`, `runs` and `logged_models` (also under `ajax-api/2.0/mlflow/`, as MLflow's UI
uses), the artifact proxy (`server.artifact_proxy`) and the probes of `meta`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notebook_tracker.server.context import TrackerContext


def mlflow_handlers(prefix: str, context: TrackerContext) -> list[tuple[Any, ...]]:
    from notebook_tracker.server.artifact_proxy import (
        DEFAULT_MAX_UPLOAD_BYTES,
        artifact_proxy_handlers,
    )
    from notebook_tracker.server.mlflow_api import experiments, history, logged_models, runs
    from notebook_tracker.server.mlflow_api.handler import MlflowEndpointHandler
    from notebook_tracker.server.mlflow_api.meta import meta_handlers
    from notebook_tracker.server.mlflow_api.service import MlflowApi

    api = MlflowApi(context)
    by_path: dict[str, dict[str, Any]] = {}
    for method, path, fn in [
        *experiments.ROUTES,
        *runs.ROUTES,
        *history.ROUTES,
        *logged_models.ROUTES,
    ]:
        by_path.setdefault(path, {})[method] = fn
    rules: list[tuple[Any, ...]] = []
    for path, endpoints in by_path.items():
        pattern = prefix + r"(?:ajax-)?api/2\.0/mlflow/" + path + "/?"
        rules.append((pattern, MlflowEndpointHandler, {"endpoints": endpoints, "api": api}))
    max_upload = context.max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES
    rules.extend(artifact_proxy_handlers(prefix, context, max_upload))
    rules.extend(meta_handlers(prefix))
    return rules

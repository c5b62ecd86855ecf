"""Model routes of the tracking server (Jupyter extension and standalone), behind its auth:

- `{prefix}models/<name>[/<version>|@<alias>]/invocations` — the scoring protocol, proxied to
  a worker process serving that registry version (started on first use);
- `{prefix}api/models`, `api/models/<name>`, `api/models/<name>/versions` — the registry;
- `{prefix}api/serving`, `api/serving/<name>/start|stop` — served models (a 403 on a server
  whose serving is turned off);
- MLflow's registry endpoints under `api/2.0/mlflow/` (see `model_registry_api.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import tornado.httpclient
import tornado.web

from notebook_tracker.errors import BadRequest
from notebook_tracker.server.base import JSON_TYPE, TrackerHandler

if TYPE_CHECKING:
    from notebook_tracker.server.context import TrackerContext

# A model name: no '/' and no '@' (nor its escaped form: clients quote '@' in paths).
_NAME = r"((?:(?!%40)[^/@])+)"


class _ModelHandler(TrackerHandler):
    auth_resource = "notebook_tracker:models"

    @property
    def serving(self) -> Any:
        return self.route_options["serving"]

    @property
    def registry(self) -> Any:
        return self.serving.registry


class InvocationsProxy(_ModelHandler):
    """POST the scoring payload; the worker's answer (status, JSON) is relayed as is."""

    @tornado.web.authenticated
    async def post(self, name: str, version: str | None, alias: str | None) -> None:
        name = unquote(name)
        body = self.body_bytes()  # the handler base streams bodies in and enforces the limit
        number = await self.run(self.serving.target, name, version, alias and unquote(alias))
        headers = {"Content-Type": self.request.headers.get("Content-Type", "application/json")}
        response = None
        for attempt in range(2):  # a worker that died since its last request is restarted once
            if attempt == 0:
                worker = await self.run(self.serving.worker, name, number)
            else:
                worker = await self.run(self.serving.recover, name, number)
            try:
                response = await tornado.httpclient.AsyncHTTPClient().fetch(
                    f"{worker.url}/invocations",
                    method="POST",
                    body=body,
                    headers=headers,
                    raise_error=False,
                    request_timeout=300,
                )
            except OSError:
                response = None
            if response is not None and response.code != 599:
                break
            if attempt == 1:
                raise tornado.web.HTTPError(503, "The model worker is not reachable.")
        assert response is not None
        self.set_status(response.code)
        self.set_header("Content-Type", response.headers.get("Content-Type", JSON_TYPE))
        self.finish(response.body)


class ModelsHandler(_ModelHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        page = await self.run(
            self.registry.search_registered_models,
            self.str_arg("filter") or None,
            self.int_arg("max_results", 100, 1, 1000),
            self.get_query_arguments("order_by") or None,
            self.str_arg("page_token") or None,
        )
        self.write_json(
            {"registered_models": [m.to_dict() for m in page], "next_page_token": page.token}
        )


class ModelHandler(_ModelHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        model = await self.run(self.registry.get_registered_model, unquote(name))
        self.write_json({"registered_model": model.to_dict()})


class VersionsHandler(_ModelHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        name = unquote(name)
        await self.run(self.registry.get_registered_model, name)
        quoted = name.replace("'", "''")
        page = await self.run(self.registry.search_model_versions, f"name = '{quoted}'")
        self.write_json({"model_versions": [v.to_dict() for v in page]})


class ServingHandler(_ModelHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.write_json(
            {"served": await self.run(self.serving.served), "serving": self.serving.settings()}
        )


class ServingActionHandler(_ModelHandler):
    @tornado.web.authenticated
    async def post(self, name: str, action: str) -> None:
        name = unquote(name)
        body = self.json_body()
        version, alias = body.get("version"), body.get("alias")
        model_uri = body.get("model_uri")
        if version is not None and not isinstance(version, (str, int)):
            raise BadRequest("'version' must be a version number or 'latest'.")
        if alias is not None and not isinstance(alias, str):
            raise BadRequest("'alias' must be a string.")
        if model_uri is not None and (
            not isinstance(model_uri, str) or version is not None or alias is not None
        ):
            raise BadRequest("'model_uri' must be a string, given without 'version' or 'alias'.")
        self.serving.require_enabled()
        if action == "stop":
            stopped = await self.run(
                self.serving.stop, name, str(version) if version is not None else None
            )
            self.write_json({"stopped": stopped})
            return
        worker = await self.run(
            self.serving.start,
            name,
            str(version) if version is not None else None,
            alias,
            model_uri,
        )
        served = [s for s in await self.run(self.serving.served) if s["pid"] == worker.pid]
        self.write_json({"served": served[0] if served else worker.to_dict()})


def model_handlers(prefix: str, context: TrackerContext) -> list[tuple[Any, ...]]:
    options = {"serving": context.model_serving}
    api = prefix + "api/"
    rules: list[tuple[Any, ...]] = [
        (
            prefix + "models/" + _NAME + r"(?:/([^/@]+)|(?:@|%40)([^/]+))?/invocations/?",
            InvocationsProxy,
            options,
        ),
        (api + "models/?", ModelsHandler, options),
        (api + "models/" + _NAME + "/?", ModelHandler, options),
        (api + "models/" + _NAME + "/versions/?", VersionsHandler, options),
        (api + "serving/?", ServingHandler, options),
        (api + "serving/" + _NAME + "/(start|stop)/?", ServingActionHandler, options),
    ]
    try:
        from notebook_tracker.server.model_registry_api import registry_rules
    except ModuleNotFoundError:  # the MLflow-compatible API is optional
        return rules
    return rules + registry_rules(prefix, context)

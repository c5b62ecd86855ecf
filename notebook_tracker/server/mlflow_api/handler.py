"""The one tornado handler behind every MLflow-compatible JSON endpoint.

Each route maps HTTP methods to endpoint functions; this class reads the request the way
MLflow's server does (query string for GET, a JSON body otherwise, which must be declared
`application/json`), runs the function on the server's thread pool and writes its answer.

Body limits (JSON 413, chunked or not), URL limits (414) and JSON checks (depth, text that
cannot be stored) are the handler base's (`server.base.TrackerHandler`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.web

from notebook_tracker import wire
from notebook_tracker.errors import EndpointNotFound, InvalidParameter
from notebook_tracker.server.base import JSON_TYPE, TrackerHandler
from notebook_tracker.server.mlflow_api import request
from notebook_tracker.server.mlflow_api.service import MlflowApi
from notebook_tracker.server.mlflow_api.sync_calls import InFlight

Endpoint = Callable[[MlflowApi, request.Params], dict[str, Any]]
AsyncEndpoint = Callable[[MlflowApi, request.Params], Awaitable[dict[str, Any]]]


class MlflowEndpointHandler(TrackerHandler):
    auth_resource = "notebook_tracker"

    async def _dispatch(self, **path_args: str) -> None:
        method = self.request.method or "GET"
        endpoints: dict[str, Endpoint | AsyncEndpoint] = self.route_options["endpoints"]
        fn = endpoints.get(method)
        if fn is None:
            raise EndpointNotFound(f"No endpoint {method} {self.request.path}.")
        if method == "GET":
            req = request.Params.from_query(self.request.query_arguments)
        else:
            self._check_content_type()
            req = request.Params(self.json_body())
        if path_args:
            req = req.with_path_args(**{k: v for k, v in path_args.items() if v is not None})
        api: MlflowApi = self.route_options["api"]
        with InFlight():  # a lone request may write on the loop (sync_calls.py)
            if inspect.iscoroutinefunction(fn):  # a write that waits off the loop by itself
                result = await fn(api, req)
            else:
                result = await self.run(fn, api, req)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(wire.dumps(result))

    def _check_content_type(self) -> None:
        if not self.body_bytes() and self.request.method in ("DELETE", "PATCH"):
            return
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise InvalidParameter(
                "Bad Request. Content-Type must be one of ['application/json'] "
                f"(got {content_type or 'none'!r}): send the fields as a JSON object."
            )

    @tornado.web.authenticated
    async def get(self, **path_args: str) -> None:
        await self._dispatch(**path_args)

    @tornado.web.authenticated
    async def post(self, **path_args: str) -> None:
        await self._dispatch(**path_args)

    @tornado.web.authenticated
    async def patch(self, **path_args: str) -> None:
        await self._dispatch(**path_args)

    @tornado.web.authenticated
    async def delete(self, **path_args: str) -> None:
        await self._dispatch(**path_args)

    @tornado.web.authenticated
    async def put(self, **path_args: str) -> None:
        await self._dispatch(**path_args)

"""The one tornado handler behind every MLflow-compatible JSON endpoint.

Each route maps HTTP methods to endpoint functions; this class reads the request the way
MLflow's server does (query string for GET, a JSON body otherwise, which must be declared
`application/json`), runs the function on the server's thread pool and writes its answer.

The body is received in streaming mode so that one declared too large is refused with a JSON
413 before it is read, rather than by the HTTP layer dropping the connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web

from notebook_tracker.errors import InvalidParameter
from notebook_tracker.server.base import JSON_TYPE, TrackerHandler
from notebook_tracker.server.errors import EndpointNotFound, PayloadTooLarge
from notebook_tracker.server.mlflow_api import wire
from notebook_tracker.server.mlflow_api.service import MlflowApi

Endpoint = Callable[[MlflowApi, wire.Params], dict[str, Any]]


@tornado.web.stream_request_body
class MlflowEndpointHandler(TrackerHandler):
    auth_resource = "notebook_tracker"
    _chunks: list[bytes]
    _size = 0

    async def prepare(self) -> None:
        pending = super().prepare()  # authentication, from the auth base bound to this class
        if pending is not None:
            await pending
        self._chunks = []
        limit = self.context.max_body_bytes
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(
                f"Request body of {declared} bytes exceeds the limit of {limit} bytes: send "
                "smaller batches."
            )
        self.request.connection.set_max_body_size(limit)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= self.context.max_body_bytes:
            self._chunks.append(chunk)

    async def _dispatch(self, **path_args: str) -> None:
        method = self.request.method or "GET"
        endpoints: dict[str, Endpoint] = self.route_options["endpoints"]
        fn = endpoints.get(method)
        if fn is None:
            raise EndpointNotFound(f"No endpoint {method} {self.request.path}.")
        if self._chunks:
            self.request.body = b"".join(self._chunks)
        if method == "GET":
            req = wire.Params.from_query(self.request.query_arguments)
        else:
            self._check_content_type()
            req = wire.Params(self.json_body())
        if path_args:
            req = req.with_path_args(**{k: v for k, v in path_args.items() if v is not None})
        api: MlflowApi = self.route_options["api"]
        result = await self.run(fn, api, req)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(wire.dumps(result))

    def _check_content_type(self) -> None:
        if not self.request.body and self.request.method in ("DELETE", "PATCH"):
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

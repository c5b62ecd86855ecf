"""The one route table, shared by the Jupyter extension and the standalone server.

`build_handlers(prefix, context)` returns tornado rules for the native API, the MLflow-compatible
API (`server.mlflow_api`, with the model registry) and model serving (`server.model_handlers`).
A new API adds its module's provider to `PROVIDERS`. Providers return `(pattern,
handler_class)` or `(pattern, handler_class, kwargs)` tuples with patterns already under the
prefix; this function adds `context` to every handler's kwargs
and binds each handler to the auth base of the context's mode (see `server.base`).

The last rule is a catch-all under the prefix answering a JSON 404 (after authentication);
callers adding routes of their own put them before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web

from notebook_tracker.errors import EndpointNotFound
from notebook_tracker.server.base import TrackerHandler
from notebook_tracker.server.context import TrackerContext
from notebook_tracker.server.mlflow_api import mlflow_handlers
from notebook_tracker.server.model_handlers import model_handlers
from notebook_tracker.server.native_api import native_handlers

Provider = Callable[[str, TrackerContext], list[tuple[Any, ...]]]

# Every API the server answers: each provider returns its rules under the prefix.
PROVIDERS: tuple[Provider, ...] = (native_handlers, mlflow_handlers, model_handlers)


class NotFoundHandler(TrackerHandler):
    """Any path under the prefix that no route matches: JSON 404 (after auth, like the rest)."""

    def _missing(self, *args: Any) -> None:
        raise EndpointNotFound(
            f"No endpoint {self.request.method} {self.request.path}: "
            "see api/openapi.json for the native API."
        )

    @tornado.web.authenticated
    def get(self, *args: Any) -> None:
        self._missing()

    @tornado.web.authenticated
    def head(self, *args: Any) -> None:
        self._missing()

    @tornado.web.authenticated
    def post(self, *args: Any) -> None:
        self._missing()

    @tornado.web.authenticated
    def put(self, *args: Any) -> None:
        self._missing()

    @tornado.web.authenticated
    def patch(self, *args: Any) -> None:
        self._missing()

    @tornado.web.authenticated
    def delete(self, *args: Any) -> None:
        self._missing()


def normalize_prefix(prefix: str) -> str:
    """'/', '/base/notebook-tracker' or 'x/' -> a prefix starting and ending with '/'."""
    prefix = "/" + prefix.strip("/")
    return prefix if prefix.endswith("/") else prefix + "/"


def build_handlers(prefix: str, context: TrackerContext) -> list[tuple[Any, ...]]:
    """Every route of the tracking server under `prefix`, bound to `context`."""
    prefix = normalize_prefix(prefix)
    rules: list[tuple[Any, ...]] = []
    for provider in PROVIDERS:
        rules.extend(provider(prefix, context))
    rules.append((prefix + r".*", NotFoundHandler))
    return [_bind(rule, context) for rule in rules]


def _bind(rule: tuple[Any, ...], context: TrackerContext) -> tuple[Any, ...]:
    pattern, handler = rule[0], rule[1]
    kwargs = dict(rule[2]) if len(rule) > 2 else {}
    if isinstance(handler, type) and issubclass(handler, TrackerHandler):
        kwargs.setdefault("context", context)
        handler = context.bind(handler)
    return (pattern, handler, kwargs) if kwargs else (pattern, handler)

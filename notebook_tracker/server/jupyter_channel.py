"""The call channel inside a Jupyter server: our client's synchronous calls as frames.

Through Jupyter's request stack (its identity provider, authorizer, XSRF and activity
bookkeeping, then our handler) a synchronous `log_param`, `set_tag` or `log_metric` cost the
server 1.0-1.7 ms of CPU, three times the standalone server's. The standalone server
offers its clients an upgrade to the call channel below tornado's Application
(fast_calls.py); Jupyter owns its Application, so here the upgrade is a handler like the
others, at `{base_url}notebook-tracker/api/2.0/notebook-tracker/calls`.

Only a script's request is upgraded: Jupyter must have authenticated it by its token (a
browser's cookie is not enough; without auth configured, Jupyter's own rule applies), the
authorizer must allow `write` on our resource, and it must carry no `Origin` (browsers send
one, and cannot send this `Upgrade` header anyway). Then the connection is detached from
tornado, as Jupyter's websockets are, and served by call_channel.py with the endpoint
functions the route table maps the hot calls to. Anything else is answered as JSON, and the
client stays on HTTP. A frame marks the server active, as an API request does (Jupyter's idle
culling reads it). Imported only by the extension, inside a Jupyter server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timezone
from typing import Any

import tornado.routing
import tornado.web
from jupyter_server.utils import ensure_async

from notebook_tracker.errors import BadRequest, PermissionDenied
from notebook_tracker.server import call_channel
from notebook_tracker.server.base import TrackerHandler
from notebook_tracker.server.context import TrackerContext
from notebook_tracker.server.fast_calls import Target, hot_table, spawn
from notebook_tracker.server.routes import normalize_prefix
from notebook_tracker.wire import call_frames


class JupyterCalls:
    """A Jupyter server as the host of call channels (call_channel.Host)."""

    # Jupyter's other requests are not seen here: a channel's client is never taken as the
    # only one, so a slow commit still sends the next writes off the IO loop (sync_calls.py).
    tracks_connections = False

    def __init__(
        self, context: TrackerContext, prefix: str, handlers: list[tuple[Any, ...]], settings: Any
    ) -> None:
        self.context = context
        self.prefix = normalize_prefix(prefix)
        rules = tornado.routing.RuleRouter(handlers).rules
        self.table: dict[str, Target] = hot_table(rules, self.prefix)
        self.settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None]) -> None:
        spawn(self._tasks, work)

    def framed(self) -> None:
        # What Jupyter's API handlers store there (an aware UTC datetime), without importing
        # its private time helpers.
        self.settings["api_last_activity"] = datetime.now(timezone.utc)


class CallChannelHandler(TrackerHandler):
    """`GET …/api/2.0/notebook-tracker/calls` with `Upgrade: notebook-tracker-calls/1`."""

    auth_resource = "notebook_tracker"

    @tornado.web.authenticated
    async def get(self) -> None:
        headers = self.request.headers
        if not call_channel.asks_for_channel(self.request.version, headers):
            raise BadRequest(
                "This endpoint upgrades an HTTP/1.1 connection to notebook-tracker's call "
                f"channel: send 'Upgrade: {call_frames.PROTOCOL}' and 'Connection: Upgrade'."
            )
        if "Origin" in headers:
            raise PermissionDenied("The call channel is for scripts, not for browser pages.")
        # Jupyter's handler attributes, from the auth base this class is bound to.
        identity = getattr(self, "identity_provider", None)
        if (
            identity is not None
            and identity.auth_enabled
            and not identity.is_token_authenticated(self)
        ):
            raise PermissionDenied(
                "The call channel needs the Jupyter token in the Authorization header "
                "('Authorization: token <jupyter token>'), not a browser login."
            )
        authorizer = self.settings.get("authorizer")
        if authorizer is not None:
            allowed = await ensure_async(
                authorizer.is_authorized(self, self.current_user, "write", self.auth_resource)
            )
            if not allowed:
                raise PermissionDenied(f"Not authorized to write {self.auth_resource}.")
        calls: JupyterCalls = self.route_options["calls"]
        connection = self.request.connection
        stream = self.detach()
        calls.spawn(call_channel.upgrade(calls, stream, self.request.remote_ip or "", connection))


def channel_handlers(
    prefix: str, context: TrackerContext, handlers: list[tuple[Any, ...]], settings: Any
) -> list[tuple[Any, ...]]:
    """The upgrade's route, to go before `handlers` (build_handlers' rules under `prefix`,
    whose hot endpoints the channel calls)."""
    calls = JupyterCalls(context, prefix, handlers, settings)
    pattern = calls.prefix + call_frames.UPGRADE_PATH
    return [(pattern, context.bind(CallChannelHandler), {"context": context, "calls": calls})]


__all__ = ["CallChannelHandler", "JupyterCalls", "channel_handlers"]

"""Handler bases: one for the JSON and error habits every API shares, two for authentication.

Handlers are written once, subclassing `TrackerHandler` and decorating every verb with
`@tornado.web.authenticated`. The route table (`routes.build_handlers`) then binds each one to
the base for where it runs:

- under Jupyter, `jupyter_server`'s `APIHandler` (token/cookie identity, XSRF and origin rules,
  403 without a user; the server's Authorizer consulted with action read/write by verb);
- standalone, a plain tornado handler that demands the server's token, when one is set, on
  every request (401 without it). No Jupyter machinery runs per request there.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

import tornado.web

from notebook_tracker.errors import (
    BadRequest,
    InvalidParameter,
    PayloadTooLarge,
    UriTooLong,
)
from notebook_tracker.http_framing import drop_bad_framing
from notebook_tracker.server.errors import error_payload, is_expected
from notebook_tracker.server.standalone_auth import StandaloneAuth

if TYPE_CHECKING:
    from notebook_tracker.server.context import TrackerContext

log = logging.getLogger("notebook_tracker.server")

JSON_TYPE = "application/json; charset=UTF-8"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


STREAM_CHUNK = 1024 * 1024
# Longest request target (path and query) accepted; longer ones are a JSON 414.
MAX_URL_BYTES = 8 * 1024
# A body over the limit is still read (and dropped) up to this much more, so that a client
# that sends it all before reading, as most do, reads the JSON 413 rather than a reset.
DRAIN_BYTES = 64 * 1024 * 1024
NO_TORNADO_LIMIT = 1 << 62


def content_disposition(kind: str, filename: str) -> str:
    """`attachment`/`inline` with a file name any client reads and no header can be broken by:
    an ASCII fallback plus the exact name percent-encoded (RFC 6266 / 5987)."""
    from urllib.parse import quote

    ascii_name = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in filename)
    if ascii_name == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@tornado.web.stream_request_body
class TrackerHandler(tornado.web.RequestHandler):
    """JSON in and out, errors as `{"error_code", "message"}`, blocking work off the IO loop.

    Route kwargs: `context` (a TrackerContext) plus any handler-specific options, kept in
    `self.route_options` (not `self.options`: that name is tornado's OPTIONS verb, and
    shadowing it turns every CORS preflight into a 500). Subclasses set `auth_resource` to
    name what they expose to authorizers.

    Limits, the same for every handler: a request target over MAX_URL_BYTES is a 414; a body
    over `context.max_body_bytes` is a 413 (JSON) whether its length is declared or it comes
    chunked. Bodies are received as a stream so that this server, not tornado's HTTP layer
    (which answers a bare 400 and drops the connection), decides: an oversize body is read
    and dropped up to DRAIN_BYTES more, then refused when the handler asks for it
    (`body_bytes()`/`json_body()`); one declared even larger, or sent with `Expect:
    100-continue`, is refused before it is read. A subclass that overrides `data_received`
    handles its own body and limits.
    """

    auth_resource = "notebook_tracker"
    context: TrackerContext
    _chunks: list[bytes] | None = None
    _received = 0
    _oversize = False

    def initialize(self, context: TrackerContext, **options: Any) -> None:
        self.context = context
        self.route_options = options

    async def prepare(self) -> None:
        target = self.request.uri or ""
        if len(target) > MAX_URL_BYTES:
            raise UriTooLong(
                f"The request URL is {len(target)} bytes long; at most {MAX_URL_BYTES} are "
                "accepted. Send long filters in a POST body (e.g. runs/search) instead."
            )
        self._check_framing()
        pending = super().prepare()  # authentication, from the auth base bound to this class
        if pending is not None:
            await pending
        if self._finished or type(self).data_received is not TrackerHandler.data_received:
            return
        self._start_body()

    # -- input ------------------------------------------------------------------------------
    def _check_framing(self) -> None:
        """Body framing tornado would refuse with a bare 400 once this returns: a JSON 400."""
        problem = drop_bad_framing(self.request.headers)
        if problem is not None:
            raise BadRequest(f"Malformed HTTP request: {problem}")

    def _start_body(self) -> None:
        limit = self.context.max_body_bytes
        self._chunks = []
        declared = self.request.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            waits = self.request.headers.get("Expect", "").lower() == "100-continue"
            if waits or int(declared) > limit + DRAIN_BYTES:
                raise self._too_large(int(declared))
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(NO_TORNADO_LIMIT)  # enforced in data_received

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self._chunks is None:
            return
        self._received += len(chunk)
        limit = self.context.max_body_bytes
        if self._received <= limit:
            self._chunks.append(chunk)
            return
        if not self._oversize:
            self._oversize = True
            self._chunks.clear()
        if self._received > limit + DRAIN_BYTES:
            # Not worth reading on: answer now; tornado closes the connection after it.
            self.send_error(413, exc_info=(PayloadTooLarge, self._too_large(), None))

    def _too_large(self, size: int | None = None) -> PayloadTooLarge:
        limit = self.context.max_body_bytes
        shown = f"of {size} bytes" if size is not None else f"over {limit} bytes"
        return PayloadTooLarge(
            f"Request body {shown} exceeds the limit of {limit} bytes: send smaller batches."
        )

    def body_bytes(self) -> bytes:
        """The request body; 413 if it was over the limit."""
        if self._oversize:
            raise self._too_large(self._received)
        if self._chunks:
            self.request.body = (
                self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            )
            self._chunks = []
        body = self.request.body or b""
        if len(body) > self.context.max_body_bytes:
            raise self._too_large(len(body))
        return body

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object ({} when empty); 400 if malformed, nested too
        deeply or holding text that cannot be stored; 413 if huge."""
        return json_object(self.body_bytes())

    def str_arg(self, name: str, default: str | None = None) -> str | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return default
        if "\x00" in value:
            raise BadRequest(f"Query parameter {name!r} contains a NUL byte.")
        return value

    def int_arg(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer query parameter, 400 naming the parameter and the range if it is not one."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"Query parameter {name!r} must be an integer, got {raw!r}.") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise BadRequest(f"Query parameter {name!r} must be {bounds}, got {value}.")
        return value

    # -- output -----------------------------------------------------------------------------
    def write_json(self, data: Any, status: int = 200) -> None:
        """Finish with `data` as JSON; NaN and infinities become null (JSON has no such values)."""
        try:
            text = json.dumps(data, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(finite_or_none(data), allow_nan=False, separators=(",", ":"))
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(text)

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking store or artifact call on the server's pool."""
        return await self.context.run(fn, *args, **kwargs)

    async def send_stream(self, stream: Any) -> None:
        """Send a binary file object in chunks, read off the IO loop, then close it and finish.

        Headers go out with the first flush: Jupyter's APIHandler.finish() would otherwise
        label the body JSON."""
        try:
            await self.flush()
            while True:
                chunk = await self.run(stream.read, STREAM_CHUNK)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
        finally:
            stream.close()
        self.finish()

    # -- errors -----------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status, payload = error_payload(status_code, exc)
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        if status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="notebook-tracker"')
        elif status == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.finish(json.dumps(payload))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        # tornado marks a verb a handler does not define with this method; no public name.
        unimplemented = tornado.web.RequestHandler._unimplemented_method  # noqa: SLF001
        return [m for m in cls.SUPPORTED_METHODS if getattr(cls, m.lower()) is not unimplemented]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if is_expected(value):
            log.info("%s %s -> %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)


def json_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object ({} when empty); 400 if malformed, nested too deeply,
    holding text that cannot be stored, or not an object."""
    from notebook_tracker.validation import parse_json

    if not body.strip():
        return {}
    try:
        data = parse_json(body)
    except InvalidParameter as exc:
        raise BadRequest(exc.message) from None
    if not isinstance(data, dict):
        raise BadRequest(f"Request body must be a JSON object, not {type(data).__name__}.")
    return data


def finite_or_none(data: Any) -> Any:
    """A copy of `data` with NaN/inf floats replaced by None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_or_none(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(v) for v in data]
    return data


# (handler, mode) -> the handler over that mode's auth base; the values are the bound classes.
_bound: dict[tuple[type, str], type] = {}


def bind_handler(handler: type, mode: str) -> type:
    """`handler` over the auth base of `mode` ("jupyter" or "standalone"), made once.

    The route table holds handlers without auth; each server binds them to its own base:
    `JupyterAuth` (server/jupyter_auth.py, imported only under Jupyter) or `StandaloneAuth`.
    Classes that do not derive from TrackerHandler, or are already bound, are returned unchanged.
    """
    if not issubclass(handler, TrackerHandler) or handler in _bound.values():
        return handler
    key = (handler, mode)
    bound = _bound.get(key)
    if bound is None:
        bound = _bound[key] = _over(handler, _auth_base(mode))
    return bound


def _auth_base(mode: str) -> type[tornado.web.RequestHandler]:
    if mode == "jupyter":
        from notebook_tracker.server.jupyter_auth import JupyterAuth

        return JupyterAuth
    return StandaloneAuth


def _over(handler: type, auth: type) -> type:
    class Bound(handler, auth):  # type: ignore[misc]
        __doc__ = handler.__doc__

    Bound.__name__ = Bound.__qualname__ = handler.__name__
    Bound.__module__ = handler.__module__
    return Bound

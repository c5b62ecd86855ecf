"""The scoring server's tornado app: `/ping`, `/health`, `/version`, `/invocations`.

Predictions run on the IO loop thread: they are CPU work, a thread would only add a hop, and
concurrency comes from worker processes (see `server.py`). Errors are JSON
`{"error_code", "message"}`: 400 for bad payloads, schema mismatches and model failures (as
MLflow), 413 for bodies over the limit, 415 for other content types, 405 for other verbs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import tornado.web

from notebook_tracker.errors import TrackerError
from notebook_tracker.http_framing import drop_bad_framing
from notebook_tracker.models.scoring import payloads

log = logging.getLogger("notebook_tracker.scoring")

DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
# Longest request target accepted (a JSON 414 past it), and how much of an oversize body is
# still read (and dropped) so that a client sending it all before reading gets the JSON 413.
MAX_URL_BYTES = 8 * 1024
DRAIN_BYTES = 64 * 1024 * 1024
_NO_TORNADO_LIMIT = 1 << 62
_JSON = "application/json"


class _Base(tornado.web.RequestHandler):
    def initialize(self, model: Any, max_body_bytes: int) -> None:
        self.model = model
        self.max_body_bytes = max_body_bytes

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    def send_error_json(self, status: int, code: str, message: str, **extra: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", _JSON)
        self.finish(json.dumps({"error_code": code, "message": message, **extra}))

    def prepare(self) -> None:
        target = self.request.uri or ""
        if len(target) > MAX_URL_BYTES:
            self.send_error_json(
                414,
                "REQUEST_LIMIT_EXCEEDED",
                f"The request URL is {len(target)} bytes long; at most {MAX_URL_BYTES} are "
                "accepted: send the input in the request body.",
            )
            return
        problem = drop_bad_framing(self.request.headers)
        if problem is not None:
            self.send_error_json(400, "BAD_REQUEST", f"Malformed HTTP request: {problem}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        code = {404: "ENDPOINT_NOT_FOUND", 413: "REQUEST_LIMIT_EXCEEDED"}.get(status_code)
        if code is None:
            code = "BAD_REQUEST" if status_code < 500 else "INTERNAL_ERROR"
        self.send_error_json(status_code, code, self._reason)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError) and value.status_code < 500:
            return
        super().log_exception(typ, value, tb)


class PingHandler(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", _JSON)
        self.finish("\n")


class VersionHandler(_Base):
    def get(self) -> None:
        from notebook_tracker import __version__

        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(__version__)


@tornado.web.stream_request_body
class InvocationsHandler(_Base):
    """POST a payload, get `{"predictions": ...}`. The body is streamed in so that an
    oversized one, declared or chunked, is refused with a JSON 413 (not tornado's bare 400)."""

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_big = False
        super().prepare()
        if self._finished or self.request.method != "POST":
            return
        length = self.request.headers.get("Content-Length", "").strip()
        if length.isascii() and length.isdigit() and int(length) > self.max_body_bytes:
            waits = self.request.headers.get("Expect", "").lower() == "100-continue"
            if waits or int(length) > self.max_body_bytes + DRAIN_BYTES:
                self._refuse_size(int(length))
                return
        # Limits are enforced below, with JSON answers; tornado's own is a bare 400.
        self.request.connection.set_max_body_size(_NO_TORNADO_LIMIT)  # type: ignore[union-attr]

    def _refuse_size(self, size: int) -> None:
        self._too_big = True
        if self._finished:
            return
        self.send_error_json(
            413,
            "REQUEST_LIMIT_EXCEEDED",
            f"Request body of {size} bytes exceeds the limit of {self.max_body_bytes} bytes: "
            "send fewer rows per request.",
        )

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= self.max_body_bytes:
            self._chunks.append(chunk)
            return
        self._chunks.clear()  # over the limit: read on (drained) and answer 413 at the end
        if self._size > self.max_body_bytes + DRAIN_BYTES:
            self._refuse_size(self._size)  # not worth reading on: answer now

    def post(self) -> None:
        if self._too_big or self._finished:
            return
        if self._size > self.max_body_bytes:
            self._refuse_size(self._size)
            return
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        content_type = self.request.headers.get("Content-Type")
        status, answer = score(self.model, body, content_type)
        self.set_status(status)
        self.set_header("Content-Type", _JSON)
        self.finish(answer)


def score(model: Any, body: bytes, content_type: str | None) -> tuple[int, bytes]:
    """(status, JSON body) for one request: the core of `/invocations`, framework-free."""
    try:
        schema = model.signature.inputs if model.signature is not None else None
        data, params = payloads.parse_body(body, content_type, schema)
        predictions = model.predict(data, params)
        return 200, payloads.predictions_body(predictions)
    except TrackerError as exc:
        payload: dict[str, Any] = {"error_code": exc.error_code, "message": exc.message}
        error_class = getattr(exc, "error_class", None)
        if error_class:
            payload["error_class"] = error_class
        return exc.http_status, json.dumps(payload).encode()
    except Exception as exc:  # the model's own failure: the caller sees what went wrong
        log.info("model raised %s: %s", type(exc).__name__, exc)
        return 400, json.dumps(
            {
                "error_code": "BAD_REQUEST",
                "message": "Encountered an unexpected error while evaluating the model: "
                f"{type(exc).__name__}: {exc}",
            },
            default=str,
        ).encode()


class NotFound(_Base):
    def prepare(self) -> None:
        super().prepare()
        if self._finished:
            return
        self.send_error_json(
            404,
            "ENDPOINT_NOT_FOUND",
            f"No endpoint {self.request.path}: use /invocations, /ping, /health or /version.",
        )


def make_app(model: Any, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> tornado.web.Application:
    options = {"model": model, "max_body_bytes": max_body_bytes}
    return tornado.web.Application(
        [
            (r"/ping", PingHandler, options),
            (r"/health", PingHandler, options),
            (r"/version", VersionHandler, options),
            (r"/invocations", InvocationsHandler, options),
            (r".*", NotFound, options),
        ],
        log_function=_quiet_log,
    )


def _quiet_log(handler: tornado.web.RequestHandler) -> None:
    # Access logs cost more than a prediction; only failures are worth a line.
    status = handler.get_status()
    if status >= 500:
        log.warning("%d %s %s", status, handler.request.method, handler.request.path)

"""The one mapping from failures to HTTP answers: a status and `{"error_code", "message"}`.

Every handler of every API (native, MLflow-compatible, models) answers errors through
`error_payload`, so the sidebar, the remote store and MLflow clients read one shape. Errors the
user can act on are 4xx; only a bug in the server is a 500.
"""

from __future__ import annotations

import errno
import json
from http import HTTPStatus
from typing import Any

from tornado.web import HTTPError

from notebook_tracker.errors import InvalidParameter, TrackerError

# MLflow's error codes for statuses raised as plain tornado HTTPErrors (auth, 404 routes...).
_CODE_FOR_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "BAD_REQUEST",
    409: "RESOURCE_CONFLICT",
    413: "REQUEST_LIMIT_EXCEEDED",
    414: "REQUEST_LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
}


class BadRequest(InvalidParameter):
    """Malformed input that never reached the tracking layer (bad JSON, wrong field type)."""


class PayloadTooLarge(TrackerError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class UriTooLong(TrackerError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 414


class Unauthenticated(TrackerError):
    error_code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDenied(TrackerError):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class EndpointNotFound(TrackerError):
    error_code = "ENDPOINT_NOT_FOUND"
    http_status = 404


def error_payload(status_code: int, exc: BaseException | None) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for an exception raised while handling a request."""
    if isinstance(exc, TrackerError):
        return exc.http_status, {"error_code": exc.error_code, "message": exc.message}
    if isinstance(exc, HTTPError):
        status = exc.status_code
        message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
        return status, {
            "error_code": _CODE_FOR_STATUS.get(
                status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
            ),
            "message": message or exc.reason or _reason(status),
        }
    if isinstance(exc, (json.JSONDecodeError, UnicodeError)):
        return 400, {"error_code": "BAD_REQUEST", "message": f"Malformed request: {exc}"}
    if _storage_failure(exc):
        reason = exc.strerror  # type: ignore[union-attr]
        return 503, {
            "error_code": "TEMPORARILY_UNAVAILABLE",
            "message": f"The tracking server cannot write to its storage ({reason}): its "
            "operator must free space or fix permissions; retry afterwards.",
        }
    if exc is None and status_code < 500:
        return status_code, {
            "error_code": _CODE_FOR_STATUS.get(status_code, "BAD_REQUEST"),
            "message": _reason(status_code),
        }
    return 500, {
        "error_code": "INTERNAL_ERROR",
        "message": "The tracking server failed to handle this request; see its log for details.",
    }


def drop_bad_framing(headers: Any) -> str | None:
    """What is wrong with a request's body framing, if anything, having removed the offending
    headers (tornado reads the body by the same headers object: without them it reads no body
    and adds no bare 400 of its own after the JSON one)."""
    length = headers.get_list("Content-Length")
    values = [v.strip() for v in ",".join(length).split(",")] if length else []
    coding = headers.get("Transfer-Encoding")
    problem = None
    if coding is not None and coding.strip().lower() != "chunked":
        problem = f"Transfer-Encoding {coding!r} is not supported: send chunked or plain."
    elif coding is not None and length:
        problem = "A request may not have both Transfer-Encoding and Content-Length."
    elif not all(v.isdigit() for v in values):
        problem = f"Content-Length {', '.join(length)!r} is not a byte count."
    elif len(set(values)) > 1:
        problem = f"Content-Length {', '.join(length)!r} gives different byte counts."
    if problem is not None:
        for name in ("Content-Length", "Transfer-Encoding"):
            if name in headers:
                del headers[name]
    return problem


def is_expected(exc: BaseException | None) -> bool:
    """True for errors that are the client's doing: logged as one line, not a traceback."""
    if isinstance(exc, TrackerError):  # a database that is down is not a bug of the server
        return exc.http_status < 500 or exc.error_code == "TEMPORARILY_UNAVAILABLE"
    if isinstance(exc, HTTPError):
        return exc.status_code < 500
    return isinstance(exc, (json.JSONDecodeError, UnicodeError)) or _storage_failure(exc)


# A full, read-only or forbidden disk is the operator's to fix, not a bug: a 503 and one line.
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
)


def _storage_failure(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

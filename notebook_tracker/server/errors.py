"""Failures as HTTP answers: a status and `{"error_code", "message"}`.

The errors and the code<->status table live in `notebook_tracker.errors`; this module only
turns what a handler raised (a TrackerError, tornado's HTTPError, bad JSON, a full disk) into
that table's answer.

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

from notebook_tracker.errors import TrackerError, code_for_status


def error_payload(status_code: int, exc: BaseException | None) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for an exception raised while handling a request."""
    if isinstance(exc, TrackerError):
        return exc.http_status, {"error_code": exc.error_code, "message": exc.message}
    if isinstance(exc, HTTPError):
        status = exc.status_code
        message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
        return status, {
            "error_code": code_for_status(status),
            "message": message or exc.reason or _reason(status),
        }
    if isinstance(exc, (json.JSONDecodeError, UnicodeError)):
        return 400, {"error_code": "BAD_REQUEST", "message": f"Malformed request: {exc}"}
    if isinstance(exc, OSError) and _storage_failure(exc):
        reason = exc.strerror
        return 503, {
            "error_code": "TEMPORARILY_UNAVAILABLE",
            "message": f"The tracking server cannot write to its storage ({reason}): its "
            "operator must free space or fix permissions; retry afterwards.",
        }
    if exc is None and status_code < 500:
        return status_code, {
            "error_code": code_for_status(status_code),
            "message": _reason(status_code),
        }
    return 500, {
        "error_code": "INTERNAL_ERROR",
        "message": "The tracking server failed to handle this request; see its log for details.",
    }


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

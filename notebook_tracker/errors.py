"""Every error notebook-tracker raises, and the one table between MLflow's error codes and HTTP.

Each error carries MLflow's `error_code` and the HTTP status a server answers with. The server
turns an error into `{"error_code", "message"}` (server/errors.py) and the REST client turns
that body back into the same class (`from_reply`), so an error reads the same whichever way a
call went. `store/db_errors.py` only translates database failures into these.
"""

from __future__ import annotations

from typing import Any


class TrackerError(Exception):
    """An error a user can act on; `error_code` uses MLflow's names, `http_status` its mapping."""

    error_code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, message: str, error_code: str | None = None) -> None:
        from notebook_tracker.redaction import redact

        # Messages quote URIs and requests; a token or password in one must not travel on.
        message = redact(message)
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
            self.http_status = HTTP_STATUS.get(error_code, 400)


class InvalidParameter(TrackerError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class NotFound(TrackerError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class AlreadyExists(TrackerError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class StoreVersionError(TrackerError):
    """The database was written by a newer notebook-tracker than this one."""

    error_code = "BAD_REQUEST"
    http_status = 400


class StoreUnavailable(TrackerError):
    """The database cannot be opened or reached; the message names it and what to do."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class FilterSyntaxError(InvalidParameter):
    """A search filter that does not parse; the message says where and what was expected."""

    position: int  # 0-based character offset, set where the parser raises it


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


# -- the REST client's --------------------------------------------------------------------
class ServerUnreachable(TrackerError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class AuthRefused(TrackerError):
    error_code = "UNAUTHENTICATED"
    http_status = 401


class MetricsUndelivered(TrackerError):
    """Points are kept (journal or memory) because the server could not take them yet."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503
    retryable = True
    rows_kept = True
    journal_paths: list[Any]  # where the kept points wait (set by the outbox that raises it)
    count: int  # how many points are kept


class MetricsRefused(TrackerError):
    """The server refused points for good; they were dropped (and a warning said so)."""

    rows_kept = True


class JournalFull(TrackerError):
    error_code = "RESOURCE_EXHAUSTED"
    http_status = 503


# -- projects and models ------------------------------------------------------------------
class ProjectError(InvalidParameter):
    """A project, its parameters, environment or source is unusable; the message says why."""


class SchemaError(InvalidParameter):
    """The input does not match the model's signature (MLflow: SCHEMA_ENFORCEMENT_FAILED)."""

    error_class = "SCHEMA_ENFORCEMENT_FAILED"


class PayloadError(InvalidParameter):
    """A request body that cannot be read as model input (400 BAD_REQUEST)."""

    error_code = "BAD_REQUEST"


class UnsupportedMediaType(PayloadError):
    http_status = 415


class ServingRefused(TrackerError):
    """The server's configuration does not allow this serving request."""

    error_code = "PERMISSION_DENIED"
    http_status = 403


class WorkerStartError(TrackerError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


# -- the one table ----------------------------------------------------------------------------
# MLflow's error code -> the HTTP status a server answers with (a class may refine it: 413, 415).
HTTP_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "RESOURCE_EXHAUSTED": 503,
    "INTERNAL_ERROR": 500,
}

# HTTP status -> MLflow's error code, for failures that carry only a status (auth, unknown
# routes, tornado's own refusals).
CODE_FOR_STATUS = {
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

# Codes a client raises as their own class (so `except NotFound` works across a server).
_CLASS_FOR_CODE: dict[str, type[TrackerError]] = {
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "INVALID_PARAMETER_VALUE": InvalidParameter,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
}


def code_for_status(status: int) -> str:
    """MLflow's error code for a bare HTTP status."""
    return CODE_FOR_STATUS.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")


def from_reply(error_code: str | None, message: str) -> TrackerError | None:
    """The error a server's `{"error_code", "message"}` stands for, when it has its own class."""
    cls = _CLASS_FOR_CODE.get(error_code or "")
    return cls(message) if cls is not None else None

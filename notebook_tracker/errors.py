"""The one error type of the tracking layer, with MLflow's error codes so servers can map them."""

from __future__ import annotations


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
    "INTERNAL_ERROR": 500,
}

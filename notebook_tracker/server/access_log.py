"""Logging of the standalone server: one line per failed request, never a secret.

Tornado's own access log prints the full request URI, so a `?token=` a browser link carried
would land in the log; this one prints the path and the query with secrets replaced, and every
server logger goes through `redaction.RedactingFilter` (tracebacks included).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from notebook_tracker import redaction

access = logging.getLogger("tornado.access")
MAX_LOGGED_URI = 2048


def log_request(handler: Any) -> None:
    """Tornado `log_function`: failures at warning/error, successes at debug."""
    status = handler.get_status()
    if not access.isEnabledFor(_level(status)):  # the common case: a success, logged at debug
        return
    request = handler.request
    log_line(status, request.method, request.uri, request.remote_ip, request.request_time())


def log_line(status: int, method: str, uri: str | None, remote_ip: str, seconds: float) -> None:
    """The access line of one request (the fast calls' too: server/fast_calls.py)."""
    level = _level(status)
    if not access.isEnabledFor(level) or not _handled(level):
        return
    uri = uri or ""
    if len(uri) > MAX_LOGGED_URI:  # a 414's URL: its start says enough
        uri = f"{uri[:MAX_LOGGED_URI]}... ({len(uri)} characters)"
    access.log(
        level,
        "%d %s %s (%s) %.2fms",
        status,
        method,
        redaction.redact(uri),
        remote_ip,
        1000.0 * seconds,
    )


def _handled(level: int) -> bool:
    """Whether a handler would take an access line at `level`. Jupyter's loggers let debug
    through and leave the level to their handlers: `isEnabledFor` alone built a record (about
    a tenth of the server's CPU on a synchronous call) for each success that nothing wrote."""
    logger: logging.Logger | None = access
    found = False
    while logger is not None:
        for handler in logger.handlers:
            found = True
            if level >= handler.level:
                return True
        if not logger.propagate:
            break
        logger = logger.parent
    return not found and logging.lastResort is not None and level >= logging.lastResort.level


def _level(status: int) -> int:
    return logging.DEBUG if status < 400 else logging.WARNING if status < 500 else logging.ERROR


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The server's own stderr handler, so that `configure` adds it once."""


def configure() -> None:
    """A stderr handler with timestamps: warnings from all, our own info lines; no secrets."""
    redaction.install()
    root = logging.getLogger()
    if any(isinstance(h, _StderrHandler) for h in root.handlers):
        return
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
    handler.addFilter(redaction.RedactingFilter())  # records of loggers not listed as well
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("notebook_tracker").setLevel(logging.INFO)

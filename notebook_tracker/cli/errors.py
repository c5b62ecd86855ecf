"""How the command reports a failure: one `Error: ...` line, the traceback only on request."""

from __future__ import annotations

import errno
import socket

from notebook_tracker.errors import TrackerError
from notebook_tracker.redaction import redact

DEBUG_ENV = "NOTEBOOK_TRACKER_DEBUG"
_HINT = f"(run with --debug or {DEBUG_ENV}=1 for the traceback)"


def one_line(error: BaseException) -> str:
    """The message after `Error: `, secrets removed."""
    if isinstance(error, TrackerError):
        return redact(error.message)
    if isinstance(error, OSError):
        return redact(_os_error(error))
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return redact(f"{type(error).__name__}: {first[:300]} {_HINT}".replace(":  ", ": "))


def _os_error(error: OSError) -> str:
    reason = error.strerror or str(error) or type(error).__name__
    where = error.filename
    if isinstance(error, socket.gaierror):
        return f"Cannot resolve a host name: {reason}."
    if where is not None:
        return f"{reason}: {where}"
    return f"{reason} {_HINT}"


def is_listen_error(error: OSError, port: int) -> bool:
    """Whether `error` can only have come from binding the listening socket."""
    if isinstance(error, socket.gaierror):
        return True
    if error.errno == errno.EACCES:
        return 0 < port < 1024 and error.filename is None
    return error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL)


def listen_error(error: OSError, host: str, port: int, option: str = "--port") -> TrackerError:
    """A failure to listen on host:port, as the user's next step."""
    if error.errno == errno.EADDRINUSE:
        return TrackerError(
            f"Port {port} on {host} is already in use: stop what is listening there, or pick "
            f"another {option} (0 picks a free one)."
        )
    if error.errno == errno.EACCES:
        return TrackerError(
            f"Not allowed to listen on port {port} of {host}: pick a port above 1023 with {option}."
        )
    if isinstance(error, socket.gaierror):
        return TrackerError(f"Cannot listen on {host}: no such host ({error.strerror}).")
    if error.errno == errno.EADDRNOTAVAIL:
        return TrackerError(
            f"Cannot listen on {host}: it is not an address of this machine; use 127.0.0.1 "
            "(this machine only) or 0.0.0.0 (every interface) with --host."
        )
    return TrackerError(f"Cannot listen on {host}:{port}: {error.strerror or error}.")

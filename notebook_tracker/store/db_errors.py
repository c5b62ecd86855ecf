"""Database failures as TrackerErrors that name the database and the next step.

The one translation point for every SQLAlchemy engine of the store (registered by
`engine.py` on SQLAlchemy's `handle_error` event): no SQL text or bind parameters reach a
user, a log line or an HTTP answer. A database that cannot be opened or reached is a
`StoreUnavailable` (503 over HTTP); a value the database refuses is a 400.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from notebook_tracker.errors import InvalidParameter, StoreUnavailable, TrackerError
from notebook_tracker.store.sqlite_files import database_file

# SQLite's own messages (sqlite3 reports no error codes before Python 3.11) -> what to do.
_SQLITE_ADVICE = (
    ("unable to open database file", "cannot be opened"),
    ("readonly database", "is read-only"),
    ("read-only", "is read-only"),
    ("disk is full", "is on a full disk: free some space, or move the store"),
    ("database is locked", "stayed locked by another process for 30 s: retry"),
    ("file is not a database", "is not a SQLite database (another file at that path?)"),
    ("malformed", "is damaged: restore it from a backup"),
    ("disk i/o error", "could not be read or written (disk I/O error): check the disk"),
)


class StoreIntegrityError(TrackerError, sa_exc.IntegrityError):
    """A constraint the database enforced (a duplicate name, a missing parent row).

    Still an `IntegrityError`, because code that settles races (get-or-create) catches it.
    """

    def __init__(self, message: str, error_code: str, original: sa_exc.DBAPIError) -> None:
        # orig is None when SQLAlchemy raised without a driver error; its stubs expect one.
        sa_exc.IntegrityError.__init__(
            self,
            None,
            None,
            original.orig,  # type: ignore[arg-type]
            hide_parameters=True,
        )
        self.args = (message,)
        self.message = message
        self.error_code = error_code
        self.http_status = 400

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:  # picklable across processes, as a plain TrackerError
        return TrackerError, (self.message, self.error_code)


def describe(url: URL | str) -> str:
    """The database in words, without its password: for messages and logs."""
    if isinstance(url, str):
        from sqlalchemy.engine import make_url

        try:
            url = make_url(url)
        except sa_exc.ArgumentError:
            return "the tracking database"
    if url.get_backend_name() == "sqlite":
        path = database_file(url) or ":memory:"
        if path != ":memory:":
            path = os.path.abspath(path)
        return f"the SQLite database {path}"
    where = url.host or "localhost"
    if url.port:
        where = f"{where}:{url.port}"
    user = f" as user {url.username}" if url.username else ""
    return f"the PostgreSQL database {url.database or '(default)'!s} on {where}{user}"


def translate(context: Any) -> None:
    """SQLAlchemy `handle_error` listener: raise the TrackerError for this failure, if any."""
    if context.is_pre_ping:  # the pool reconnects on its own; nothing to tell anyone
        return
    error = for_exception(context.sqlalchemy_exception, context.original_exception, _url(context))
    if error is not None:
        error.__cause__ = None
        error.__suppress_context__ = True  # the chained error's text holds the SQL
        raise error


def _url(context: Any) -> URL | None:
    engine = context.engine or (context.connection.engine if context.connection else None)
    return engine.url if engine is not None else None


def for_exception(
    wrapped: BaseException | None, original: BaseException, url: URL | None
) -> TrackerError | None:
    """The TrackerError for a failure while talking to the database at `url`, or None."""
    what = describe(url) if url is not None else "the tracking database"
    if isinstance(original, OverflowError):
        return InvalidParameter(
            f"A number is too large to store (limit: 64-bit integers): {original}"
        )
    if isinstance(original, UnicodeError):
        return InvalidParameter(
            "Text with characters that cannot be stored (a lone surrogate?): "
            f"{type(original).__name__}."
        )
    if not isinstance(wrapped, sa_exc.DBAPIError):
        return None
    reason = _first_line(original)
    sqlite = url is not None and url.get_backend_name() == "sqlite"
    if isinstance(wrapped, sa_exc.IntegrityError):
        duplicate = "unique" in reason.lower() or "duplicate" in reason.lower()
        return StoreIntegrityError(
            f"{_cap(what)} refused the change: {reason}.",
            "RESOURCE_ALREADY_EXISTS" if duplicate else "INVALID_PARAMETER_VALUE",
            wrapped,
        )
    if isinstance(wrapped, sa_exc.DataError):
        return InvalidParameter(f"{_cap(what)} refused a value: {reason}.")
    if sqlite:
        return _sqlite_error(what, reason, url)
    if _sqlstate(original) in _CONFLICTS:
        return StoreUnavailable(
            f"{_cap(what)} stopped this write: it conflicted with another one at the same time "
            f"({reason}). Nothing of it was written: send it again."
        )
    if isinstance(wrapped, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
        wrapped.connection_invalidated
    ):
        return StoreUnavailable(
            f"Cannot use {what}: {reason}. Check that the database server is running and "
            "reachable, and the tracking URI's host, port, user, password and database name."
        )
    return TrackerError(f"{_cap(what)} failed: {reason}.")


def for_driver_error(error: Exception, dbapi_error: type[Exception], url: URL) -> TrackerError:
    """The store's error for `error`, which a driver raised under a statement sent to it
    directly (not through SQLAlchemy, whose `handle_error` event translates its own)."""
    wrapped = sa_exc.DBAPIError.instance(None, None, error, dbapi_error)
    translated = for_exception(wrapped, error, url)
    assert translated is not None  # a DBAPIError always has one
    return translated


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back
# for what another did meanwhile, and the same write sent again succeeds.
_CONFLICTS = ("40P01", "40001")


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a driver's error: psycopg2's `pgcode`, psycopg 3's `sqlstate`."""
    return getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)


def _sqlite_error(what: str, reason: str, url: URL | None) -> TrackerError:
    lowered = reason.lower()
    advice = next((advice for marker, advice in _SQLITE_ADVICE if marker in lowered), None)
    if advice is None:
        return TrackerError(f"{_cap(what)} failed: {reason}.")
    if advice == "cannot be opened":
        advice = _why_unopenable(database_file(url) if url is not None else None)
    elif advice == "is read-only":
        advice = "is read-only: make the file and its folder writable by this user"
    return StoreUnavailable(f"{_cap(what)} {advice}; or use another tracking URI.")


def _why_unopenable(path: str | None) -> str:
    if not path:
        return "cannot be opened"
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        return "cannot be opened: that path is a folder; give a file path such as .../tracker.db"
    if not os.path.isdir(folder):
        return f"cannot be opened: its folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"cannot be opened: its folder {folder} is not writable by this user"
    return "cannot be opened: check that the file and its folder are readable and writable"


def folder_error(path: str, error: OSError) -> StoreUnavailable:
    """The folder of a SQLite store could not be created."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        reason = "a file is in the way of the folder"
    return StoreUnavailable(
        f"Cannot create the folder for the SQLite database {os.path.abspath(path)}: {reason}. "
        "Use a tracking URI in a writable folder."
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _first_line(error: BaseException) -> str:
    """The driver's message without SQL, parameters, DETAIL/CONTEXT lines or a final dot."""
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__
    for cut in (" [SQL:", " [parameters:"):
        line = line.split(cut, 1)[0]
    return line.rstrip(".")[:300]

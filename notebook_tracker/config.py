"""Where the tracking store and the artifacts live.

Resolution order for the tracking URI: `set_tracking_uri()` in this process, then the
`NOTEBOOK_TRACKER_URI` environment variable (which the Jupyter server extension exports to every
kernel it starts, so all notebooks under one server share one store), then a default store in
`.notebook_tracker/` under the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from notebook_tracker import env

STORE_DIRNAME = ".notebook_tracker"
DB_FILENAME = "tracker.db"
ARTIFACTS_DIRNAME = "artifacts"

_uri_override: str | None = None


def default_tracking_uri(base_dir: str | os.PathLike[str] | None = None) -> str:
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    return f"sqlite:///{(base / STORE_DIRNAME / DB_FILENAME).resolve()}"


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Set the store for this process; a plain path becomes a SQLite database in that folder."""
    global _uri_override
    _uri_override = normalize_uri(os.fspath(uri)) if uri else None


def get_tracking_uri() -> str:
    if _uri_override:
        return _uri_override
    from_env = env.tracking_uri()
    if from_env:
        return normalize_uri(from_env)
    return default_tracking_uri()


def normalize_uri(uri: str) -> str:
    """Accept what users type: a database URI, an http(s) server, or a folder/`.db` file path.

    A folder may be the store itself (holding `tracker.db`) or the folder the store sits in
    (holding `.notebook_tracker/`); any other folder gets a new `tracker.db`.
    """
    if "://" in uri:
        if uri.startswith("file://"):
            return normalize_uri(uri[len("file://") :])
        return uri
    path = Path(uri).expanduser().resolve()
    if path.suffix in (".db", ".sqlite", ".sqlite3"):
        return f"sqlite:///{path}"
    if not (path / DB_FILENAME).exists() and (path / STORE_DIRNAME / DB_FILENAME).exists():
        path = path / STORE_DIRNAME
    return f"sqlite:///{path / DB_FILENAME}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for other stores."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :])
    return None


def find_store(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest `.notebook_tracker/tracker.db` in `start` (default: cwd) or a folder above it,
    the way git finds `.git`; None when there is none."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / STORE_DIRNAME / DB_FILENAME
        if candidate.is_file():
            return candidate
    return None


def default_artifact_root(tracking_uri: str) -> str:
    """Artifacts sit beside a SQLite database; elsewhere under `NOTEBOOK_TRACKER_ARTIFACT_ROOT`."""
    explicit = env.artifact_root()
    if explicit:
        # Stored locations must be absolute: a server refuses relative ones (see artifacts/roots).
        return explicit if "://" in explicit else os.path.abspath(os.path.expanduser(explicit))
    if tracking_uri.startswith("sqlite:///"):
        db_path = Path(tracking_uri[len("sqlite:///") :])
        beside = db_path.parent / ARTIFACTS_DIRNAME
        if str(db_path).startswith("file:"):  # SQLite's own URI form: left as it was named
            return str(beside)
        # Absolute for a relative `sqlite:///t.db` as well: a relative location is read against
        # each reader's working folder (a server elsewhere refuses it: artifacts/roots.py).
        return os.path.abspath(beside)
    return str((Path.cwd() / STORE_DIRNAME / ARTIFACTS_DIRNAME).resolve())

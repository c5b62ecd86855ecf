"""The one place a URI becomes a store: tracking, model registry and logged models alike.

`http(s)://` opens the REST implementation of each interface, anything else the SQL one
(SQLite, PostgreSQL). One object per (kind, URI) per process: opening a SQL store checks the
schema, which is not free, and every SQL store of a URI shares that URI's engines.

Adding a store: implement the interface (`base.TrackingStore`, `registry_base.RegistryStore`,
`logged_model_base.LoggedModelStore`) and add a branch for its scheme to the `_open_*` function
of that kind below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from notebook_tracker.store.base import TrackingStore

if TYPE_CHECKING:  # the first point needs neither
    from notebook_tracker.store.logged_model_base import LoggedModelStore
    from notebook_tracker.store.registry_base import RegistryStore

T = TypeVar("T")

REMOTE_SCHEMES = ("http://", "https://")

_stores: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def is_remote(uri: str) -> bool:
    """True for URIs served by a tracking server (the REST implementations)."""
    return uri.startswith(REMOTE_SCHEMES)


# Implementations are imported on first use: opening a SQLite store never imports the HTTP
# client, nor the reverse.
def _open_tracking(uri: str) -> TrackingStore:
    if is_remote(uri):
        from notebook_tracker.store.rest import RestStore

        return RestStore(uri)
    from notebook_tracker.store.sql import SqlStore

    return SqlStore(uri)


def _open_registry(uri: str) -> RegistryStore:
    if is_remote(uri):
        from notebook_tracker.store.registry_rest import RestRegistryStore

        return RestRegistryStore(uri)
    from notebook_tracker.store.registry_sql import SqlRegistryStore

    return SqlRegistryStore(uri)


def _open_logged_models(uri: str) -> LoggedModelStore:
    if is_remote(uri):
        from notebook_tracker.store.logged_model_rest import RestLoggedModelStore

        return RestLoggedModelStore(uri)
    from notebook_tracker.store.logged_model_sql import SqlLoggedModelStore

    return SqlLoggedModelStore(uri)


def _cached(kind: str, uri: str, open_: Callable[[str], T]) -> T:
    with _lock:
        store = _stores.get((kind, uri))
        if store is None:
            store = open_(uri)
            _stores[(kind, uri)] = store
    return cast(T, store)


def tracking_store(uri: str) -> TrackingStore:
    """Experiments, runs, params, tags and metrics."""
    return _cached("tracking", uri, _open_tracking)


def open_tracking_in_background(uri: str) -> TrackingStore:
    """`tracking_store(uri)` for a background thread: opened without holding the factory's lock
    (a process forked meanwhile would inherit it held), then cached unless a caller was first."""
    store = _open_tracking(uri)
    with _lock:
        return cast(TrackingStore, _stores.setdefault(("tracking", uri), store))


def first_write_store(uri: str) -> TrackingStore:
    """`tracking_store(uri)`, or, on a SQLite file whose SQLAlchemy store this process has not
    opened yet, a store that writes a first run through `sqlite3` while that opens in the
    background (`sqlite_first_write.py`): a fresh process's first point without the ~0.4 s
    import of SQLAlchemy. For the fluent API; other callers want the full store at once."""
    with _lock:
        store = _stores.get(("tracking", uri)) or _stores.get(("first_write", uri))
    if store is not None:
        return cast(TrackingStore, store)
    from notebook_tracker.store.sqlite_first_write import FirstWriteStore

    fast = FirstWriteStore.open(uri)
    if fast is None:
        return tracking_store(uri)
    with _lock:
        store = _stores.setdefault(("first_write", uri), fast)
    if store is fast:
        fast.start_opening()
    return cast(TrackingStore, store)


def registry_store(uri: str) -> RegistryStore:
    """Registered models, versions, tags and aliases."""
    return _cached("registry", uri, _open_registry)


def logged_model_store(uri: str) -> LoggedModelStore:
    """MLflow 3's logged models, and the datasets and models runs use and produce."""
    return _cached("logged_models", uri, _open_logged_models)


def forget_stores(kind: str | None = None) -> None:
    """Drop cached stores of `kind` (all kinds by default): tests, or after files were removed."""
    with _lock:
        for key in [k for k in _stores if kind is None or k[0] == kind]:
            del _stores[key]

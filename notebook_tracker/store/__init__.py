"""Tracking stores: `get_store(uri)` picks SQL or REST by the URI's scheme."""

from __future__ import annotations

import threading

from notebook_tracker.store.base import TrackingStore

_stores: dict[str, TrackingStore] = {}
_lock = threading.Lock()


def get_store(uri: str) -> TrackingStore:
    """One store object per URI per process: opening checks the schema, which is not free."""
    with _lock:
        store = _stores.get(uri)
        if store is None:
            store = _open(uri)
            _stores[uri] = store
        return store


def _open(uri: str) -> TrackingStore:
    if uri.startswith(("http://", "https://")):
        from notebook_tracker.store.rest import RestStore

        return RestStore(uri)
    from notebook_tracker.store.sql import SqlStore

    return SqlStore(uri)


def forget_stores() -> None:
    """Drop cached stores (tests, or after the store's files were removed)."""
    with _lock:
        _stores.clear()


__all__ = ["TrackingStore", "get_store", "forget_stores"]

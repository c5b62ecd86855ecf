"""Stores of tracking data, the model registry and logged models, one interface each with a
SQL and a REST implementation; `factory` opens them from a URI. `get_store(uri)` is the
tracking store of a URI."""

from __future__ import annotations

from notebook_tracker.store.base import TrackingStore
from notebook_tracker.store.factory import forget_stores
from notebook_tracker.store.factory import tracking_store as get_store

__all__ = ["TrackingStore", "get_store", "forget_stores"]

"""Where projects keep what is worth reusing (git mirrors, built environments), and locks."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from notebook_tracker import env


def cache_root() -> Path:
    """`$NOTEBOOK_TRACKER_CACHE_DIR`, else `$XDG_CACHE_HOME/notebook-tracker`, else ~/.cache."""
    return env.cache_dir()


def stable_hash(value: Any, length: int = 16) -> str:
    """A short hash of JSON-able data that does not depend on dict order or the process."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (two runs building the same env wait for each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; concurrent builds are the user's risk
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

"""A module's logger that imports `logging` when it first logs.

`logging` (with `traceback`, `string`, `tokenize`) costs a fresh process several ms, and the
modules on the first point's path (the metric buffer, background jobs) log only when something
goes wrong. `_log = LazyLogger(__name__)` then `_log.warning(...)`, as with a `logging.Logger`.
"""

from __future__ import annotations

from typing import Any


class LazyLogger:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        import logging

        return getattr(logging.getLogger(self.name), attr)

"""`nt.lightgbm`: autologging (work in progress)."""

from __future__ import annotations

from typing import Any

from notebook_tracker.frameworks import autolog as _autolog

NAME = "lightgbm"
MODULES = ("lightgbm",)
OPTIONS: dict[str, Any] = {}


def patch(patcher: Any, st: Any, module_name: str) -> None:
    """Nothing hooked yet."""


def autolog(disable: bool = False, **options: Any) -> None:
    _autolog.configure(NAME, disable=disable, **options)

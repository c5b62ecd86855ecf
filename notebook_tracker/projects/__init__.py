"""Projects: run MLproject folders, git repositories and notebooks as tracked runs.

`run_project` (runner.py) and `rerun` (rerun.py) are the entry points; names resolve on first
use so that importing this package costs nothing.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run_project": "notebook_tracker.projects.runner",
    "ProjectRun": "notebook_tracker.projects.runner",
    "rerun": "notebook_tracker.projects.rerun",
    "load_project": "notebook_tracker.projects.spec",
    "ProjectError": "notebook_tracker.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module 'notebook_tracker.projects' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value

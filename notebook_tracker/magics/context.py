"""Context tags of a tracked cell: where it ran, on what, from which code."""

from __future__ import annotations

import json
import platform
import sys
from functools import lru_cache
from typing import Any

from notebook_tracker.magics.git_info import GitState
from notebook_tracker.magics.notebook_path import NotebookLocation

# Versions worth knowing when comparing runs; only those already imported are read (cheap).
KEY_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "xgboost",
    "lightgbm",
    "catboost",
    "statsmodels",
    "transformers",
    "matplotlib",
    "notebook_tracker",
)


@lru_cache(maxsize=1)
def _host() -> str:
    import socket

    return socket.gethostname()


def package_versions(modules: dict[str, Any] | None = None) -> dict[str, str]:
    """{package: version} for the key packages the kernel has imported."""
    modules = sys.modules if modules is None else modules
    found = {}
    for name in KEY_PACKAGES:
        module = modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            found["scikit-learn" if name == "sklearn" else name] = version
    return found


def context_tags(
    location: NotebookLocation,
    execution_count: int | None,
    cell_id: str | None,
) -> dict[str, str]:
    """The tags `%%track_run` sets when a run starts (names shared with the sidebar and rerun)."""
    tags = {
        "mlflow.source.type": "NOTEBOOK",
        "mlflow.source.name": location.path,
        "notebook_tracker.notebook_path": location.path,
        "notebook_tracker.notebook_path_source": location.source,
        "notebook_tracker.host": _host(),
        "notebook_tracker.python_version": platform.python_version(),
        "notebook_tracker.packages": json.dumps(package_versions(), sort_keys=True),
    }
    if execution_count is not None:
        tags["notebook_tracker.execution_count"] = str(execution_count)
    if cell_id:
        tags["notebook_tracker.cell_id"] = cell_id
    return tags


def git_tags(git: GitState | None) -> dict[str, str]:
    """Commit, branch and dirty flag of the working directory's repository (none outside one)."""
    if git is None:
        return {}
    tags = {"notebook_tracker.git.dirty": "true" if git.dirty else "false"}
    if git.commit:
        tags["mlflow.source.git.commit"] = git.commit
    if git.branch:
        tags["mlflow.source.git.branch"] = git.branch
    return tags

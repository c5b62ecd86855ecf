"""A model's environment files: `requirements.txt`, `python_env.yaml` and `conda.yaml`.

Requirements a flavor names without a version are pinned to what is installed now, so the
model can be rebuilt with the library versions it was saved with.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import yaml

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"

_BARE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pin(requirement: str) -> str:
    """`name` -> `name==<installed version>`; anything with a specifier is kept as given."""
    requirement = requirement.strip()
    if not _BARE_NAME.match(requirement):
        return requirement
    version = _installed(requirement)
    return f"{requirement}=={version}" if version else requirement


def _dedupe(requirements: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for req in requirements:
        key = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")
        seen.setdefault(key, req)
    return list(seen.values())


def write_environment(
    path: Path,
    flavor_requirements: Iterable[str],
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
) -> list[str]:
    """Write the three environment files into `path`; returns the requirement lines."""
    if pip_requirements is not None:
        requirements = list(pip_requirements)
    else:
        requirements = [pin(r) for r in flavor_requirements]
    requirements = _dedupe([*requirements, *(extra_pip_requirements or ())])
    (path / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n", encoding="utf-8")
    python = ".".join(map(str, sys.version_info[:3]))
    build = [f"pip=={_installed('pip')}" if _installed("pip") else "pip"]
    if _installed("setuptools"):
        build.append(f"setuptools=={_installed('setuptools')}")
    build.append("wheel")
    python_env = {
        "python": python,
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (path / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements}],
        "name": "model_env",
    }
    (path / CONDA_FILE).write_text(yaml.safe_dump(conda, sort_keys=False))
    return requirements

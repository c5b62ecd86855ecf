"""Parameters of a project run: parse `-P key=value`, check types, fill in the command."""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.spec import PLACEHOLDER, EntryPoint

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def parse_param_args(items: Iterable[str]) -> dict[str, str]:
    """`["alpha=0.5", "name=a b"]` -> {"alpha": "0.5", "name": "a b"}; the last value wins."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ProjectError(
                f"Parameter {item!r} is not of the form name=value (e.g. -P alpha=0.5)."
            )
        params[key] = value
    return params


def type_problem(ptype: str, value: str) -> str | None:
    """Why `value` is not a valid `ptype`, or None when it is (paths are checked later)."""
    text = value.strip()
    if ptype == "float":
        try:
            number = float(text)
        except ValueError:
            return f"expected a float, got {value!r}."
        if math.isnan(number):
            return f"expected a float, got {value!r} (NaN is not allowed)."
    elif ptype == "int":
        try:
            int(text)
        except ValueError:
            return f"expected an int, got {value!r}."
    elif ptype == "uri" and not _URI.match(text):
        return f"expected a URI with a scheme (e.g. s3://bucket/key, file:///path), got {value!r}."
    elif ptype == "path" and not text:
        return "expected a path, got an empty value."
    return None


@dataclass
class ResolvedParams:
    """Checked parameter values: `values` go into the command, `logged` onto the run."""

    values: dict[str, str] = field(default_factory=dict)  # declared, as substituted
    typed: dict[str, Any] = field(default_factory=dict)  # declared, as Python values
    extra: dict[str, str] = field(default_factory=dict)  # not declared: appended as --k v
    logged: dict[str, str] = field(default_factory=dict)  # what the user gave or defaulted


def resolve_params(
    entry: EntryPoint,
    given: dict[str, str],
    project_dir: Path,
    cwd: Path | None = None,
) -> ResolvedParams:
    """Check every parameter before anything runs; all problems are reported in one error.

    A relative `path` the user gave is taken from `cwd` (where they typed it); a relative
    default is taken from the project folder (where its author meant it).
    """
    cwd = cwd or Path.cwd()
    out = ResolvedParams()
    missing: list[str] = []
    problems: list[str] = []
    for name, param in entry.parameters.items():
        if name in given:
            raw, base = given[name], cwd
        elif param.default is not None:
            raw, base = param.default, project_dir
        else:
            missing.append(name)
            continue
        out.logged[name] = raw
        problem = type_problem(param.type, raw)
        if problem:
            problems.append(f"{name} ({param.type}): {problem}")
            continue
        if param.type == "path":
            try:
                resolved = _local_path(raw.strip(), base)
            except ProjectError as error:
                problems.append(f"{name} (path): {error.message}")
                continue
            out.values[name] = resolved
            out.typed[name] = resolved
        else:
            out.values[name] = raw.strip() if param.type in ("float", "int") else raw
            out.typed[name] = _typed(param.type, raw)
    for name, raw in given.items():
        if name not in entry.parameters:
            out.extra[name] = raw
            out.logged[name] = raw
    if missing or problems:
        lines = []
        if missing:
            lines.append(
                f"missing values for required parameters: {', '.join(missing)} "
                f"(give them with -P {missing[0]}=VALUE)"
            )
        lines.extend(p.rstrip(".") for p in problems)
        raise ProjectError(
            f"Invalid parameters for entry point {entry.name!r}: " + "; ".join(lines) + "."
        )
    return out


def _typed(ptype: str, raw: str) -> Any:
    if ptype == "float":
        return float(raw)
    if ptype == "int":
        return int(raw)
    return raw


def _local_path(value: str, base: Path) -> str:
    if value.startswith("file://"):
        value = value[len("file://") :]
    elif _URI.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        raise ProjectError(
            f"{value!r} is a remote URI; a 'path' parameter takes a local file or folder "
            "(declare the parameter as 'uri' to pass URIs through)."
        )
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = base / path
    path = path.resolve()
    if not path.exists():
        raise ProjectError(
            f"no such file or folder {str(path)!r} (declare it as 'string' if the program "
            "creates it)"
        )
    return str(path)


def build_command(entry: EntryPoint, params: ResolvedParams) -> str:
    """The entry point's command with values shell-quoted; undeclared ones as `--key value`."""
    if entry.command is None:
        raise ProjectError(f"Entry point {entry.name!r} is a notebook and has no command.")

    def fill(match: re.Match[str]) -> str:
        return shlex.quote(params.values[match.group(1)])

    command = PLACEHOLDER.sub(fill, entry.command)
    for key, value in params.extra.items():
        command += f" --{shlex.quote(key)} {shlex.quote(value)}"
    return command

"""The MLproject file: parse it, check every field, and say exactly what is wrong where.

Without an MLproject file, any `.py`, `.sh` or `.ipynb` file of the project is an entry point
by its name (with or without the extension).
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_tracker.errors import ProjectError

PARAM_TYPES = ("float", "int", "string", "path", "uri")
RUNNABLE_SUFFIXES = (".py", ".sh", ".ipynb")
DEFAULT_ENTRY_POINT = "main"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"
_TOP_LEVEL_KEYS = ("name", "python_env", "conda_env", "docker_env", "entry_points")
_ENV_KEYS = ("python_env", "conda_env", "docker_env")
# `{name}` in a command, but not a shell `${VAR}`; names may hold '-' as MLflow's do.
PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_\-]*)\}")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: str | None = None  # None: required

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str | None  # None for a notebook entry point
    parameters: dict[str, Parameter] = field(default_factory=dict)
    notebook: Path | None = None  # absolute path of an `.ipynb` entry point


@dataclass(frozen=True)
class DockerEnv:
    image: str
    volumes: tuple[str, ...] = ()
    environment: tuple[tuple[str, str | None], ...] = ()  # (name, value or None to copy)


@dataclass
class ProjectSpec:
    directory: Path
    name: str
    entry_points: dict[str, EntryPoint]
    env_kind: str | None = None  # "python_env" | "conda_env" | "docker_env" | None
    env_file: Path | None = None
    docker: DockerEnv | None = None
    spec_file: Path | None = None

    def entry_point(self, name: str | None) -> EntryPoint:
        """The declared entry point `name`, else a runnable file of that name in the project."""
        name = name or DEFAULT_ENTRY_POINT
        if name in self.entry_points:
            return self.entry_points[name]
        found = self._runnable_file(name)
        if found is not None:
            return _file_entry_point(name, found)
        declared = ", ".join(sorted(self.entry_points)) or "none"
        files = ", ".join(runnable_files(self.directory)[:20]) or "none"
        where = f"{self.spec_file}" if self.spec_file else f"{self.directory} (no MLproject file)"
        raise ProjectError(
            f"Entry point {name!r} not found in {where}. Declared entry points: {declared}. "
            f"Files usable as entry points: {files}."
        )

    def _runnable_file(self, name: str) -> Path | None:
        root = self.directory.resolve()
        candidate = (root / name).resolve()
        if not candidate.is_relative_to(root):
            raise ProjectError(f"Entry point {name!r} is outside the project folder {root}.")
        if candidate.is_file() and candidate.suffix in RUNNABLE_SUFFIXES:
            return candidate
        if candidate.suffix == "":
            matches = [
                candidate.with_suffix(s)
                for s in RUNNABLE_SUFFIXES
                if candidate.with_suffix(s).is_file()
            ]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                names = ", ".join(m.name for m in matches)
                raise ProjectError(
                    f"Entry point {name!r} is ambiguous: {names}. Name the file with its extension."
                )
        return None


def runnable_files(directory: Path) -> list[str]:
    """Files at the top of the project that can serve as entry points."""
    if not directory.is_dir():
        return []
    return sorted(
        p.name for p in directory.iterdir() if p.is_file() and p.suffix in RUNNABLE_SUFFIXES
    )


def _file_entry_point(name: str, path: Path) -> EntryPoint:
    quoted = shlex.quote(str(path))
    if path.suffix == ".ipynb":
        return EntryPoint(name=name, command=None, notebook=path)
    if path.suffix == ".sh":
        shell = "bash" if shutil.which("bash") else "sh"
        return EntryPoint(name=name, command=f"{shell} {quoted}")
    return EntryPoint(name=name, command=f"python {quoted}")


def find_spec_file(directory: Path) -> Path | None:
    """The MLproject file, its name matched case-insensitively."""
    if not directory.is_dir():
        return None
    for entry in directory.iterdir():
        if entry.name.lower() == "mlproject" and entry.is_file():
            return entry
    return None


def load_project(directory: str | Path) -> ProjectSpec:
    """Read the project in `directory`: its MLproject file if there is one, else its files."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ProjectError(f"Project folder {root} does not exist or is not a folder.")
    spec_file = find_spec_file(root)
    if spec_file is None:
        kind, env_file = _implicit_env(root)
        return ProjectSpec(root, root.name, {}, kind, env_file)
    return _parse(root, spec_file)


def _implicit_env(root: Path) -> tuple[str | None, Path | None]:
    if (root / PYTHON_ENV_FILE).is_file():
        return "python_env", root / PYTHON_ENV_FILE
    if (root / CONDA_ENV_FILE).is_file():
        return "conda_env", root / CONDA_ENV_FILE
    return None, None


class _Checker:
    """Builds error messages that name the file and the field."""

    def __init__(self, spec_file: Path) -> None:
        self.spec_file = spec_file

    def fail(self, where: str, problem: str) -> ProjectError:
        location = f"{self.spec_file}: {where}" if where else str(self.spec_file)
        return ProjectError(f"Invalid MLproject file {location}: {problem}")


def _parse(root: Path, spec_file: Path) -> ProjectSpec:
    import yaml

    check = _Checker(spec_file)
    try:
        data = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise check.fail("", f"not valid YAML ({error}).") from None
    except UnicodeDecodeError:
        raise check.fail("", "not UTF-8 text.") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise check.fail("", f"the top level must be a mapping, not {type(data).__name__}.")
    unknown = [str(k) for k in data if k not in _TOP_LEVEL_KEYS]
    if unknown:
        raise check.fail(unknown[0], f"unknown field; the fields are {', '.join(_TOP_LEVEL_KEYS)}.")
    name = data.get("name", root.name)
    if not isinstance(name, (str, int, float)) or isinstance(name, bool):
        raise check.fail("name", "must be a string.")
    declared_envs = [k for k in _ENV_KEYS if data.get(k) is not None]
    if len(declared_envs) > 1:
        raise check.fail(
            ", ".join(declared_envs), "declare at most one of python_env, conda_env, docker_env."
        )
    kind, env_file, docker = None, None, None
    if declared_envs:
        kind = declared_envs[0]
        if kind == "docker_env":
            docker = _parse_docker(check, data["docker_env"])
        else:
            env_file = _env_file(check, root, kind, data[kind])
    else:
        kind, env_file = _implicit_env(root)
    entry_points = _parse_entry_points(check, data.get("entry_points"), root)
    return ProjectSpec(root, str(name), entry_points, kind, env_file, docker, spec_file)


def _env_file(check: _Checker, root: Path, kind: str, value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise check.fail(kind, "must be the path of a YAML file inside the project.")
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise check.fail(kind, f"{value!r} points outside the project folder.")
    if not path.is_file():
        raise check.fail(kind, f"file {value!r} not found in {root}.")
    return path


def _parse_docker(check: _Checker, value: Any) -> DockerEnv:
    if not isinstance(value, dict):
        raise check.fail("docker_env", "must be a mapping with at least 'image'.")
    image = value.get("image")
    if not isinstance(image, str) or not image.strip():
        raise check.fail("docker_env.image", "required: the name of a Docker image.")
    volumes = value.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
        raise check.fail("docker_env.volumes", "must be a list of 'host:container' strings.")
    environment: list[tuple[str, str | None]] = []
    for i, item in enumerate(value.get("environment") or []):
        if isinstance(item, str):
            environment.append((item, None))
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            environment.append((item[0], item[1]))
        else:
            raise check.fail(
                f"docker_env.environment[{i}]",
                "each item is a variable name to copy or a [name, value] pair.",
            )
    return DockerEnv(image.strip(), tuple(volumes), tuple(environment))


def _parse_entry_points(check: _Checker, value: Any, root: Path) -> dict[str, EntryPoint]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise check.fail("entry_points", "must be a mapping of entry point names to definitions.")
    found = {}
    for ep_name, ep in value.items():
        where = f"entry_points.{ep_name}"
        if not isinstance(ep, dict):
            raise check.fail(where, "must be a mapping with 'command' (and 'parameters').")
        extra = [str(k) for k in ep if k not in ("command", "parameters", "notebook")]
        if extra:
            raise check.fail(
                f"{where}.{extra[0]}",
                "unknown field; use 'command' (or 'notebook') and 'parameters'.",
            )
        params = _parse_parameters(check, where, ep.get("parameters"))
        if "notebook" in ep:
            found[str(ep_name)] = _notebook_entry(check, where, ep, params, root, str(ep_name))
            continue
        command = ep.get("command")
        if not isinstance(command, str) or not command.strip():
            raise check.fail(f"{where}.command", "required: the shell command to run.")
        for placeholder in PLACEHOLDER.findall(command):
            if placeholder not in params:
                declared = ", ".join(params) or "none"
                raise check.fail(
                    f"{where}.command",
                    f"refers to {{{placeholder}}}, which is not a declared parameter "
                    f"(declared: {declared}).",
                )
        found[str(ep_name)] = EntryPoint(str(ep_name), command.strip(), params)
    return found


def _notebook_entry(
    check: _Checker, where: str, ep: dict, params: dict[str, Parameter], root: Path, name: str
) -> EntryPoint:
    """`notebook: path.ipynb` instead of `command`: a notebook with declared parameters."""
    if "command" in ep:
        raise check.fail(where, "give either 'command' or 'notebook', not both.")
    value = ep["notebook"]
    if not isinstance(value, str) or not value.endswith(".ipynb"):
        raise check.fail(f"{where}.notebook", "must be the path of an .ipynb file in the project.")
    path = (root / value).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise check.fail(f"{where}.notebook", f"file {value!r} not found in {root}.")
    return EntryPoint(name, None, params, notebook=path)


def _parse_parameters(check: _Checker, where: str, value: Any) -> dict[str, Parameter]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise check.fail(f"{where}.parameters", "must be a mapping of parameter names.")
    params = {}
    for name, decl in value.items():
        here = f"{where}.parameters.{name}"
        if isinstance(decl, str):  # shorthand `name: type`
            ptype, default = decl, None
        elif isinstance(decl, dict):
            extra = [str(k) for k in decl if k not in ("type", "default")]
            if extra:
                raise check.fail(f"{here}.{extra[0]}", "unknown field; use 'type' and 'default'.")
            ptype, default = decl.get("type", "string"), decl.get("default")
        elif decl is None:
            ptype, default = "string", None
        else:
            raise check.fail(here, "must be a type name or a mapping with 'type' and 'default'.")
        if ptype not in PARAM_TYPES:
            raise check.fail(
                f"{here}.type", f"unknown type {ptype!r}; use one of {', '.join(PARAM_TYPES)}."
            )
        if default is not None:
            if isinstance(default, (dict, list)):
                raise check.fail(f"{here}.default", "must be a single value.")
            default = _default_text(default)
            from notebook_tracker.projects.params import type_problem

            problem = type_problem(ptype, default)
            if problem:
                raise check.fail(f"{here}.default", problem)
        params[str(name)] = Parameter(str(name), ptype, default)
    return params


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""Where a project's command runs: this interpreter, a cached venv, a conda env, or Docker.

`check_environment` runs before the tracked run exists (so a wrong Python version or a missing
conda fails fast); `prepare_environment` builds or reuses the environment afterwards.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_tracker import env
from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.cache import cache_root, file_lock, stable_hash
from notebook_tracker.projects.spec import ProjectSpec

MANAGERS = ("local", "virtualenv", "conda", "docker")
READY_MARKER = ".notebook-tracker-env.json"

Output = Callable[[str, str], None]


@dataclass
class Environment:
    """How to run a command in an environment: PATH entries and variables to set."""

    manager: str
    bin_dir: Path | None = None
    variables: dict[str, str] = field(default_factory=dict)
    docker: Any = None  # DockerEnv when the command runs in a container
    reused: bool = False

    extra_path: tuple[Path, ...] = ()  # more folders to put first on PATH

    @property
    def python(self) -> str:
        if self.manager == "local" or self.bin_dir is None:
            return sys.executable
        return str(self.bin_dir / ("python.exe" if os.name == "nt" else "python"))

    def apply(self, base: dict[str, str]) -> dict[str, str]:
        """`base` (a process environment) changed so that `python` is this environment's."""
        out = dict(base)
        folders = [*self.extra_path, *([self.bin_dir] if self.bin_dir is not None else [])]
        if folders:
            out["PATH"] = os.pathsep.join([*map(str, folders), base.get("PATH", "")])
            out.pop("PYTHONHOME", None)
        out.update(self.variables)
        return out


def _local() -> Environment:
    """This interpreter first on PATH, as `python` even where its folder has only `python3`."""
    here = Path(sys.executable)
    named = here.parent / "python"
    try:
        same = named.exists() and named.samefile(here)
    except OSError:
        same = False
    if same or os.name == "nt":
        return Environment("local", here.parent)
    shims = cache_root() / "shims" / stable_hash(sys.executable)
    if not (shims / "python").exists():
        shims.mkdir(parents=True, exist_ok=True)
        for name in ("python", "python3"):
            link = shims / name
            if not link.is_symlink():
                tmp = shims / f".{name}.{os.getpid()}"
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(here)
                tmp.replace(link)
    return Environment("local", here.parent, extra_path=(shims,))


def default_manager(spec: ProjectSpec) -> str:
    """The manager a project asks for when the user names none."""
    return {
        "python_env": "virtualenv",
        "conda_env": "conda",
        "docker_env": "docker",
    }.get(spec.env_kind or "", "local")


def check_environment(spec: ProjectSpec, manager: str | None) -> str:
    """Validate the manager for this project before anything runs; return its name."""
    manager = manager or default_manager(spec)
    if manager not in MANAGERS:
        raise ProjectError(f"Unknown env manager {manager!r}: use one of local, virtualenv, conda.")
    if manager == "virtualenv":
        if spec.env_kind == "docker_env":
            raise ProjectError(
                f"{spec.spec_file}: the project declares docker_env; it cannot run in a "
                "virtualenv. Use --env-manager local to run it with the current interpreter."
            )
        _venv_spec(spec)  # reads the env file: a wrong Python version fails here
    elif manager == "conda":
        if spec.env_kind == "python_env":
            raise ProjectError(
                f"The project declares python_env ({spec.env_file}); conda cannot build it. "
                "Use --env-manager virtualenv (or local)."
            )
        if conda_executable() is None:
            raise ProjectError(
                "--env-manager conda needs a conda executable (conda, mamba or micromamba on "
                "PATH, or $CONDA_EXE), and none was found. Use --env-manager virtualenv to build "
                "a venv from the pip dependencies of conda.yaml, or --env-manager local."
            )
    elif manager == "docker":
        if spec.docker is None:
            raise ProjectError(
                "--env-manager docker needs a docker_env section in the MLproject file."
            )
        problem = docker_problem()
        if problem:
            raise ProjectError(
                f"docker_env is not supported here: {problem}. Run the project with "
                "--env-manager local (current interpreter) or virtualenv instead."
            )
    return manager


def prepare_environment(
    spec: ProjectSpec,
    manager: str,
    output: Output | None = None,
    extra_packages: tuple[str, ...] = (),
) -> Environment:
    """Build (or reuse) the environment; `output(stream, text)` receives progress lines."""
    if manager == "local":
        return _local()
    if manager == "virtualenv":
        return _virtualenv(spec, output, extra_packages)
    if manager == "conda":
        return _conda(spec, output, extra_packages)
    if manager == "docker":
        return Environment("docker", docker=spec.docker)
    raise ProjectError(f"Unknown env manager {manager!r}.")


# -- virtualenv ------------------------------------------------------------------------------
@dataclass
class _VenvSpec:
    build: list[str]
    install: list[str]  # pip arguments, e.g. ["numpy==2.0", "-r", "requirements.txt"]
    fingerprint: dict[str, Any]


def _current_python() -> str:
    return ".".join(str(p) for p in sys.version_info[:3])


def _venv_spec(spec: ProjectSpec, extra_packages: tuple[str, ...] = ()) -> _VenvSpec:
    build: list[str] = []
    deps: list[str] = []
    if spec.env_kind == "python_env" and spec.env_file is not None:
        data = _read_yaml(spec.env_file, "python_env")
        _check_python_version(spec.env_file, "python", data.get("python"))
        build = _string_list(spec.env_file, "build_dependencies", data.get("build_dependencies"))
        deps = _string_list(spec.env_file, "dependencies", data.get("dependencies"))
    elif spec.env_kind == "conda_env" and spec.env_file is not None:
        data = _read_yaml(spec.env_file, "conda_env")
        deps = _conda_pip_dependencies(spec.env_file, data)
    install: list[str] = []
    for dep in [*deps, *extra_packages]:
        install.extend(shlex.split(dep))
    fingerprint = {
        "python": _current_python(),
        "executable": sys.executable,
        "build": build,
        "install": install,
        "files": _referenced_files(spec.directory, install),
    }
    return _VenvSpec(build, install, fingerprint)


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ProjectError(f"{what} file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{what} file {path}: the top level must be a mapping.")
    return data


def _string_list(path: Path, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ProjectError(f"{path}: {key} must be a list of requirement strings.")
    return [str(v) for v in value]


def _check_python_version(path: Path, key: str, wanted: Any) -> None:
    if wanted is None:
        return
    wanted_text = str(wanted).strip()
    current = _current_python()
    parts = wanted_text.split(".")
    if not all(p.isdigit() for p in parts) or not parts:
        raise ProjectError(f"{path}: {key} must be a version like '3.11', got {wanted_text!r}.")
    if current.split(".")[: len(parts)] != parts:
        raise ProjectError(
            f"{path}: the project wants Python {wanted_text}, but this interpreter is Python "
            f"{current} ({sys.executable}) and notebook-tracker builds venvs from it. Run "
            f"notebook-tracker with Python {wanted_text}, change {key} in {path.name}, or use "
            "--env-manager local."
        )


def _conda_pip_dependencies(path: Path, data: dict[str, Any]) -> list[str]:
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise ProjectError(f"{path}: dependencies must be a list.")
    pip_deps: list[str] = []
    for dep in deps:
        if isinstance(dep, str):
            name = dep.split("=")[0].split("<")[0].split(">")[0].strip()
            if name == "python" and "=" in dep:
                version = dep.split("=", 1)[1].lstrip("=").strip().rstrip(".*")
                _check_python_version(path, "dependencies: python", version)
        elif isinstance(dep, dict) and "pip" in dep:
            pip_deps.extend(_string_list(path, "dependencies.pip", dep["pip"]))
    return pip_deps


def _referenced_files(project_dir: Path, install: list[str]) -> dict[str, str]:
    """Contents of requirement files named by `-r`/`-c`, so editing them rebuilds the env."""
    files: dict[str, str] = {}
    for flag, value in zip(install, install[1:], strict=False):
        if flag in ("-r", "--requirement", "-c", "--constraint"):
            path = project_dir / value
            try:
                files[value] = path.read_text(encoding="utf-8")
            except OSError:
                raise ProjectError(
                    f"Requirements file {value!r} (from the project's environment) not found "
                    f"in {project_dir}."
                ) from None
    return files


def _say(output: Output | None, text: str) -> None:
    if output is not None:
        output("stderr", text)


def _virtualenv(spec: ProjectSpec, output: Output | None, extra: tuple[str, ...]) -> Environment:
    venv = _venv_spec(spec, extra)
    key = stable_hash(venv.fingerprint)
    env_dir = cache_root() / "envs" / f"venv-{key}"
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    with file_lock(env_dir.with_name(env_dir.name + ".lock")):
        if (env_dir / READY_MARKER).is_file():
            return Environment("virtualenv", bin_dir, {"VIRTUAL_ENV": str(env_dir)}, reused=True)
        _say(output, f"notebook-tracker: building virtualenv {env_dir} (reused by later runs)\n")
        if env_dir.exists():  # a build that died half-way
            shutil.rmtree(env_dir)
        try:
            _build_venv(env_dir, bin_dir, venv, spec.directory)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        marker = {"created": time.time(), **venv.fingerprint}
        import json

        (env_dir / READY_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return Environment("virtualenv", bin_dir, {"VIRTUAL_ENV": str(env_dir)})


def _build_venv(env_dir: Path, bin_dir: Path, venv: _VenvSpec, project_dir: Path) -> None:
    # Creating the venv without pip and installing with this interpreter's pip (`--python`)
    # saves the seconds ensurepip takes; projects that list pip still get it.
    _run_checked([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], project_dir)
    python = str(bin_dir / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    pip += ["--disable-pip-version-check", "--no-input"]
    if venv.build:
        _run_checked([*pip, *venv.build], project_dir)
    if venv.install:
        _run_checked([*pip, *venv.install], project_dir)


def _run_checked(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace"
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise ProjectError(
            f"Building the environment failed: {shlex.join(cmd)} exited with "
            f"{proc.returncode}:\n{tail}"
        )


# -- conda -----------------------------------------------------------------------------------
def conda_executable() -> str | None:
    explicit = env.conda_exe()
    if explicit and Path(explicit).is_file():
        return explicit
    for name in ("conda", "mamba", "micromamba"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _conda(spec: ProjectSpec, output: Output | None, extra: tuple[str, ...]) -> Environment:
    conda = conda_executable()
    if conda is None:
        raise ProjectError("No conda executable found (conda, mamba or micromamba).")
    env_file = spec.env_file
    content = env_file.read_text(encoding="utf-8") if env_file else ""
    key = stable_hash({"conda": content, "extra": list(extra)})
    prefix = cache_root() / "envs" / f"conda-{key}"
    bin_dir = prefix / ("Scripts" if os.name == "nt" else "bin")
    with file_lock(prefix.with_name(prefix.name + ".lock")):
        if (prefix / READY_MARKER).is_file():
            return Environment("conda", bin_dir, {"CONDA_PREFIX": str(prefix)}, reused=True)
        _say(output, f"notebook-tracker: building conda env {prefix} (reused by later runs)\n")
        if prefix.exists():
            shutil.rmtree(prefix)
        try:
            if env_file is not None:
                _run_checked(
                    [conda, "env", "create", "--quiet", "-p", str(prefix), "-f", str(env_file)],
                    spec.directory,
                )
            else:
                _run_checked(
                    [conda, "create", "--yes", "--quiet", "-p", str(prefix), "python"],
                    spec.directory,
                )
            if extra:
                _run_checked(
                    [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", *extra],
                    spec.directory,
                )
        except BaseException:
            shutil.rmtree(prefix, ignore_errors=True)
            raise
        (prefix / READY_MARKER).write_text(f'{{"created": {time.time()}}}', encoding="utf-8")
    return Environment("conda", bin_dir, {"CONDA_PREFIX": str(prefix)})


# -- docker ----------------------------------------------------------------------------------
def docker_problem() -> str | None:
    """None when a Docker engine answers; otherwise why it cannot be used."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker executable on PATH"
    try:
        proc = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"the docker client failed ({error})"
    if proc.returncode != 0 or not proc.stdout.strip():
        detail = (proc.stderr or "").strip().splitlines()
        return "no Docker engine answered" + (f" ({detail[-1]})" if detail else "")
    return None

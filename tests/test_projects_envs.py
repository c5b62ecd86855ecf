"""Environments: a venv built from the project's spec with a real PyPI package, then reused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from projects_helpers import cli, use_project_cache, write_files

from notebook_tracker.client import TrackingClient
from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.environments import READY_MARKER, check_environment
from notebook_tracker.projects.spec import load_project

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CHECK = """
import json, sys
import six
print(json.dumps({"prefix": sys.prefix, "six": six.__version__}))
"""


@pytest.fixture(autouse=True)
def _cache(tracking_uri, tmp_path, monkeypatch) -> Path:
    return use_project_cache(tmp_path, monkeypatch)


def _report(stdout: str) -> dict:
    line = next(x for x in stdout.splitlines() if x.startswith("{"))
    return json.loads(line)


def _envs(cache: Path) -> list[Path]:
    root = cache / "envs"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


@pytest.mark.slow
def test_virtualenv_is_built_from_python_env_with_its_dependency_then_reused(tmp_path, _cache):
    root = write_files(
        tmp_path / "proj",
        {
            "MLproject": "python_env: python_env.yaml\n"
            "entry_points:\n  main: {command: 'python check.py'}\n",
            "python_env.yaml": f"python: '{PY}'\ndependencies:\n  - six==1.16.0\n",
            "check.py": CHECK,
        },
    )
    first = cli("run", str(root))  # python_env projects default to the virtualenv manager
    assert first.returncode == 0, first.stderr
    assert "building virtualenv" in first.stderr
    report = _report(first.stdout)
    assert report["six"] == "1.16.0"
    [env_dir] = _envs(_cache)
    assert Path(report["prefix"]).resolve() == env_dir.resolve()  # it ran in the venv
    marker = env_dir / READY_MARKER
    created = marker.read_text()
    inode = env_dir.stat().st_ino

    second = cli("run", str(root))
    assert second.returncode == 0, second.stderr
    assert "building virtualenv" not in second.stderr
    assert _report(second.stdout)["prefix"] == report["prefix"]
    assert _envs(_cache) == [env_dir]
    assert marker.read_text() == created and env_dir.stat().st_ino == inode  # not rebuilt
    runs = list(TrackingClient().search_runs(["0"]))
    assert {r.data.tags["mlflow.project.env"] for r in runs} == {"virtualenv"}
    assert {r.info.status for r in runs} == {"FINISHED"}

    # A changed spec is a different environment.
    write_files(root, {"python_env.yaml": f"python: '{PY}'\ndependencies:\n  - six==1.15.0\n"})
    third = cli("run", str(root))
    assert third.returncode == 0, third.stderr
    assert _report(third.stdout)["six"] == "1.15.0"
    assert len(_envs(_cache)) == 2


@pytest.mark.slow
def test_virtualenv_from_the_pip_part_of_conda_yaml_with_requirements_file(tmp_path, _cache):
    root = write_files(
        tmp_path / "proj",
        {
            "MLproject": "conda_env: conda.yaml\n"
            "entry_points:\n  main: {command: 'python check.py'}\n",
            "conda.yaml": f"name: demo\ndependencies:\n  - python={PY}\n  - pip\n"
            "  - pip:\n    - -r requirements.txt\n",
            "requirements.txt": "six==1.16.0\n",
            "check.py": CHECK,
        },
    )
    result = cli("run", str(root), "--env-manager", "virtualenv")
    assert result.returncode == 0, result.stderr
    assert _report(result.stdout)["six"] == "1.16.0"
    assert len(_envs(_cache)) == 1


def test_python_version_mismatch_is_an_error_before_any_run(tmp_path):
    root = write_files(
        tmp_path / "proj",
        {"python_env.yaml": "python: '2.7'\ndependencies: [six]\n", "t.py": ""},
    )
    result = cli("run", str(root), "-e", "t.py")
    assert result.returncode == 1
    assert "wants Python 2.7" in result.stderr
    assert f"this interpreter is Python {PY}" in result.stderr
    assert "--env-manager local" in result.stderr
    assert list(TrackingClient().search_runs(["0"])) == []


def test_failing_dependency_install_marks_the_run_failed_with_pips_reason(tmp_path):
    root = write_files(
        tmp_path / "proj",
        {
            "python_env.yaml": f"python: '{PY}'\ndependencies: ['-r', 'missing-reqs.txt']\n",
            "t.py": "",
        },
    )
    result = cli("run", str(root), "-e", "t.py")
    assert result.returncode == 1
    assert "missing-reqs.txt" in result.stderr and "not found" in result.stderr


def test_python_env_cannot_use_conda_and_docker_env_cannot_use_virtualenv(tmp_path):
    py = write_files(tmp_path / "py", {"python_env.yaml": f"python: '{PY}'\n"})
    with pytest.raises(ProjectError, match="conda cannot build it"):
        check_environment(load_project(py), "conda")
    docker = write_files(
        tmp_path / "docker",
        {"MLproject": "docker_env: {image: x}\nentry_points:\n  main: {command: 'true'}\n"},
    )
    with pytest.raises(ProjectError, match="cannot run in a virtualenv"):
        check_environment(load_project(docker), "virtualenv")
    with pytest.raises(ProjectError, match="needs a docker_env section"):
        check_environment(load_project(py), "docker")


def test_projects_without_environment_run_locally_by_default(tmp_path):
    root = write_files(tmp_path / "p", {"where.py": "import sys; print(sys.executable)\n"})
    assert check_environment(load_project(root), None) == "local"
    result = cli("run", str(root), "-e", "where.py")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).parent == Path(sys.executable).parent


def test_local_manager_gives_python_even_when_the_interpreter_folder_has_only_python3(tmp_path):
    odd = tmp_path / "odd" / "bin"
    odd.mkdir(parents=True)
    interpreter = odd / f"python{PY}"
    interpreter.symlink_to(sys.executable)
    root = write_files(tmp_path / "p", {"w.py": "import sys; print(sys.executable)\n"})
    result = subprocess.run(
        [str(interpreter), "-m", "notebook_tracker.cli", "run", str(root), "-e", "w.py"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    used = Path(result.stdout.strip())
    assert used.name == "python"
    assert used.resolve() == Path(sys.executable).resolve()

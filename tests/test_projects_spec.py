"""The MLproject file: what it may say, and errors that name the file, the field and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects_helpers import write_files

from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.spec import load_project


def _project(tmp_path: Path, mlproject: str, **files: str) -> Path:
    return write_files(tmp_path / "proj", {"MLproject": mlproject, **files})


def test_full_spec_parses_entry_points_parameters_defaults_and_shorthand(tmp_path):
    root = _project(
        tmp_path,
        """
        name: demo
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              n: {type: int, default: 3}
              data: {type: path, default: data.csv}
              name: string
              where: {type: uri}
            command: "python train.py --alpha {alpha} --n {n}"
          other:
            command: "echo hi"
        """,
    )
    spec = load_project(root)
    assert spec.name == "demo"
    main = spec.entry_point(None)
    assert main.name == "main"
    params = main.parameters
    assert (params["alpha"].type, params["alpha"].default) == ("float", "0.5")
    assert (params["n"].type, params["n"].default) == ("int", "3")
    assert params["name"].type == "string" and params["name"].required
    assert params["where"].type == "uri" and params["where"].required
    assert spec.entry_point("other").command == "echo hi"
    assert spec.env_kind is None


def test_file_name_matches_case_insensitively(tmp_path):
    root = write_files(tmp_path / "p", {"mlproject": "name: lower\n"})
    assert load_project(root).name == "lower"


@pytest.mark.parametrize(
    ("mlproject", "field", "problem"),
    [
        ("entry_points: [1, 2]", "entry_points", "must be a mapping"),
        ("entry_point: {}", "entry_point", "unknown field"),
        ("entry_points:\n  main:\n    parameters: {}\n", "entry_points.main.command", "required"),
        (
            "entry_points:\n  main:\n    command: x\n    parameters:\n      a: {type: double}\n",
            "entry_points.main.parameters.a.type",
            "unknown type 'double'",
        ),
        (
            "entry_points:\n  main:\n    command: x\n    parameters:\n"
            "      a: {type: float, default: abc}\n",
            "entry_points.main.parameters.a.default",
            "expected a float",
        ),
        (
            "entry_points:\n  main:\n    command: x\n    parameters:\n"
            "      a: {type: int, defualt: 1}\n",
            "entry_points.main.parameters.a.defualt",
            "unknown field",
        ),
        (
            "entry_points:\n  main:\n    command: python t.py {beta}\n",
            "entry_points.main.command",
            "{beta}, which is not a declared parameter",
        ),
        (
            "entry_points:\n  nb: {notebook: missing.ipynb}\n",
            "entry_points.nb.notebook",
            "file 'missing.ipynb' not found",
        ),
        (
            "entry_points:\n  nb: {notebook: a.ipynb, command: x}\n",
            "entry_points.nb",
            "either 'command' or 'notebook'",
        ),
        ("python_env: missing.yaml", "python_env", "not found"),
        ("docker_env: {volumes: [a]}", "docker_env.image", "required"),
        (
            "python_env: p.yaml\nconda_env: c.yaml",
            "python_env, conda_env",
            "at most one of",
        ),
        ("name: [unclosed", "", "not valid YAML"),
    ],
)
def test_invalid_spec_names_file_field_and_problem(tmp_path, mlproject, field, problem):
    root = _project(tmp_path, mlproject, **{"p.yaml": "python: '3'\n", "c.yaml": "name: x\n"})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    message = info.value.message
    assert str(root / "MLproject") in message
    assert f": {field}:" in message or (field == "" and "MLproject" in message)
    assert problem in message


def test_shell_variables_in_commands_are_not_parameters(tmp_path):
    root = _project(
        tmp_path,
        "entry_points:\n  main:\n    command: echo ${HOME} {x}\n    parameters: {x: string}\n",
    )
    assert load_project(root).entry_point("main").command == "echo ${HOME} {x}"


def test_notebook_entry_point_declares_typed_parameters(tmp_path):
    root = _project(
        tmp_path,
        "entry_points:\n  explore:\n    notebook: nb/explore.ipynb\n"
        "    parameters: {k: {type: int, default: 2}}\n",
        **{"nb/explore.ipynb": "{}"},
    )
    entry = load_project(root).entry_point("explore")
    assert entry.command is None and entry.notebook == root / "nb" / "explore.ipynb"
    assert entry.parameters["k"].type == "int"


def test_docker_env_is_parsed(tmp_path):
    root = _project(
        tmp_path,
        """
        docker_env:
          image: python:3.11-slim
          volumes: ["/data:/data"]
          environment: [HOME, ["MODE", "fast"]]
        entry_points:
          main: {command: "python x.py"}
        """,
    )
    spec = load_project(root)
    assert spec.env_kind == "docker_env"
    assert spec.docker.image == "python:3.11-slim"
    assert spec.docker.volumes == ("/data:/data",)
    assert spec.docker.environment == (("HOME", None), ("MODE", "fast"))


def test_env_files_are_found_without_being_declared(tmp_path):
    root = write_files(tmp_path / "p", {"python_env.yaml": "python: '3'\n", "t.py": ""})
    spec = load_project(root)
    assert spec.env_kind == "python_env" and spec.env_file == root / "python_env.yaml"
    root2 = write_files(tmp_path / "q", {"conda.yaml": "name: x\n"})
    assert load_project(root2).env_kind == "conda_env"


def test_without_mlproject_py_sh_and_ipynb_files_are_entry_points(tmp_path):
    root = write_files(
        tmp_path / "p",
        {"train.py": "", "job.sh": "", "explore.ipynb": "{}", "notes.txt": "", "sub/deep.py": ""},
    )
    spec = load_project(root)
    assert spec.entry_point("train.py").command == f"python {root / 'train.py'}"
    assert spec.entry_point("train").command == f"python {root / 'train.py'}"
    assert spec.entry_point("job.sh").command.endswith(f"sh {root / 'job.sh'}")
    notebook = spec.entry_point("explore.ipynb")
    assert notebook.command is None and notebook.notebook == root / "explore.ipynb"
    assert spec.entry_point("sub/deep.py").command == f"python {root / 'sub' / 'deep.py'}"


def test_unknown_entry_point_lists_declared_and_runnable_files(tmp_path):
    root = _project(
        tmp_path, "entry_points:\n  main: {command: echo}\n", **{"a.py": "", "b.sh": ""}
    )
    with pytest.raises(ProjectError) as info:
        load_project(root).entry_point("nope")
    message = info.value.message
    assert "'nope' not found" in message
    assert "Declared entry points: main" in message
    assert "a.py, b.sh" in message


def test_entry_point_outside_the_project_is_refused(tmp_path):
    root = write_files(tmp_path / "p", {"a.py": ""})
    write_files(tmp_path, {"secret.py": ""})
    with pytest.raises(ProjectError, match="outside the project"):
        load_project(root).entry_point("../secret.py")


def test_ambiguous_extensionless_entry_point_is_an_error(tmp_path):
    root = write_files(tmp_path / "p", {"run.py": "", "run.sh": ""})
    with pytest.raises(ProjectError, match="ambiguous: run.py, run.sh"):
        load_project(root).entry_point("run")


def test_missing_project_folder_is_an_error(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "nope")

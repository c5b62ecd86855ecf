"""Parameters: `-P k=v` parsing, type checks before anything runs, quoting into the command."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from projects_helpers import write_files

from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.params import build_command, parse_param_args, resolve_params
from notebook_tracker.projects.spec import EntryPoint, Parameter, load_project

MLPROJECT = """
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      n: {type: int, default: 3}
      data: {type: path, default: data.csv}
      name: string
      where: {type: uri, default: "s3://bucket/key"}
    command: "python train.py --alpha {alpha} --n {n} --data {data} --name {name} --where {where}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path / "proj", {"MLproject": MLPROJECT, "data.csv": "x\n1\n"})


def _main(project: Path) -> EntryPoint:
    return load_project(project).entry_point("main")


def test_parse_param_args_splits_on_first_equals_and_keeps_spaces():
    assert parse_param_args(["a=1", "b=x=y", "c=hello world", "d="]) == {
        "a": "1",
        "b": "x=y",
        "c": "hello world",
        "d": "",
    }


@pytest.mark.parametrize("bad", ["novalue", "=3", " =3"])
def test_parse_param_args_rejects_items_without_name_and_value(bad):
    with pytest.raises(ProjectError, match="not of the form name=value"):
        parse_param_args([bad])


def test_defaults_fill_in_and_values_are_typed(project):
    params = resolve_params(_main(project), {"name": "run 1"}, project, cwd=project)
    assert params.typed == {
        "alpha": 0.5,
        "n": 3,
        "data": str(project / "data.csv"),
        "name": "run 1",
        "where": "s3://bucket/key",
    }
    assert params.logged["data"] == "data.csv"  # what the user gave or defaulted
    assert params.extra == {}


def test_command_is_filled_with_shell_quoted_values_and_extras_appended(project):
    given = {"name": "it's a test; rm -rf /", "alpha": "0.25", "extra-flag": "x y"}
    params = resolve_params(_main(project), given, project, cwd=project)
    command = build_command(_main(project), params)
    argv = shlex.split(command)
    assert argv[:3] == ["python", "train.py", "--alpha"]
    assert argv[argv.index("--name") + 1] == "it's a test; rm -rf /"
    assert argv[argv.index("--alpha") + 1] == "0.25"
    assert argv[-2:] == ["--extra-flag", "x y"]
    assert params.logged["extra-flag"] == "x y"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"alpha": "abc"}, "alpha (float): expected a float, got 'abc'"),
        ({"alpha": "nan"}, "alpha (float): expected a float, got 'nan' (NaN is not allowed)"),
        ({"n": "1.5"}, "n (int): expected an int, got '1.5'"),
        ({"n": "three"}, "n (int): expected an int, got 'three'"),
        ({"where": "/just/a/path"}, "where (uri): expected a URI with a scheme"),
        ({"data": "nope.csv"}, "data (path): no such file or folder"),
        ({"data": "s3://bucket/data.csv"}, "data (path): 's3://bucket/data.csv' is a remote URI"),
        ({"data": ""}, "data (path): expected a path, got an empty value"),
    ],
)
def test_each_type_error_is_reported_before_anything_runs(project, given, expected):
    with pytest.raises(ProjectError) as info:
        resolve_params(_main(project), {"name": "x", **given}, project, cwd=project)
    assert expected in info.value.message
    assert "entry point 'main'" in info.value.message


def test_valid_values_of_each_type_pass(project, tmp_path):
    other = write_files(tmp_path / "elsewhere", {"d.csv": ""}) / "d.csv"
    given = {
        "alpha": "1e-3",
        "n": "-7",
        "data": f"file://{other}",
        "name": "",
        "where": "https://example.com/x",
    }
    params = resolve_params(_main(project), given, project, cwd=project)
    assert params.typed["alpha"] == 0.001 and params.typed["n"] == -7
    assert params.typed["data"] == str(other)
    assert params.typed["name"] == ""


def test_all_missing_required_parameters_and_type_errors_come_in_one_error(tmp_path):
    entry = EntryPoint(
        "main",
        "x",
        {
            "a": Parameter("a", "string"),
            "b": Parameter("b", "int"),
            "c": Parameter("c", "float", "1.0"),
        },
    )
    with pytest.raises(ProjectError) as info:
        resolve_params(entry, {"c": "zzz"}, tmp_path)
    message = info.value.message
    assert "missing values for required parameters: a, b" in message
    assert "c (float): expected a float, got 'zzz'" in message


def test_relative_path_given_by_user_is_taken_from_their_directory(project, tmp_path):
    user_dir = write_files(tmp_path / "user", {"mine.csv": ""})
    params = resolve_params(
        _main(project), {"name": "x", "data": "mine.csv"}, project, cwd=user_dir
    )
    assert params.typed["data"] == str(user_dir / "mine.csv")
    assert Path(params.values["data"]).is_absolute()


def test_relative_path_default_is_taken_from_the_project(project, tmp_path):
    params = resolve_params(_main(project), {"name": "x"}, project, cwd=tmp_path)
    assert params.typed["data"] == str(project / "data.csv")


def test_file_entry_points_take_every_parameter_as_an_extra(tmp_path):
    root = write_files(tmp_path / "p", {"train.py": ""})
    entry = load_project(root).entry_point("train.py")
    params = resolve_params(entry, {"lr": "0.1", "name": "a b"}, root)
    assert shlex.split(build_command(entry, params))[2:] == ["--lr", "0.1", "--name", "a b"]

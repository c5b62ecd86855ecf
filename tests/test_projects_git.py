"""Projects from real git repositories: branches, tags, commits, subdirectories, the commit tag."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects_helpers import cli, commit_all, git, init_repo, use_project_cache, write_files

from notebook_tracker.client import TrackingClient
from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.sources import fetch_project, split_subdirectory

MLPROJECT = """
entry_points:
  main:
    parameters:
      x: {type: int, default: 1}
    command: "python run.py {x}"
"""


def _version_script(label: str) -> str:
    return f"import sys\nprint('version={label} x=' + sys.argv[1])\n"


@pytest.fixture(autouse=True)
def _store(tracking_uri, tmp_path, monkeypatch):
    use_project_cache(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, str | Path]:
    """main: v1 (tagged v1) then v2; branch `feature` from v2 with its own commit."""
    path = tmp_path / "repo"
    v1 = init_repo(path, {"proj/MLproject": MLPROJECT, "proj/run.py": _version_script("v1")})
    git(path, "tag", "v1")
    write_files(path, {"proj/run.py": _version_script("v2")})
    v2 = commit_all(path, "v2")
    git(path, "checkout", "-q", "-b", "feature")
    write_files(path, {"proj/run.py": _version_script("feature")})
    feature = commit_all(path, "feature")
    git(path, "checkout", "-q", "main")
    return {"path": path, "v1": v1, "v2": v2, "feature": feature}


def _last_run():
    runs = list(TrackingClient().search_runs(["0"], order_by=["attributes.start_time DESC"]))
    return runs[0]


@pytest.mark.parametrize(
    ("version", "expected", "commit_key", "branch"),
    [
        (None, "v2", "v2", "main"),
        ("v1", "v1", "v1", None),
        ("feature", "feature", "feature", "feature"),
        ("COMMIT:v1", "v1", "v1", None),
    ],
    ids=["default-branch", "tag", "branch", "commit"],
)
def test_git_url_runs_the_requested_version_and_records_its_commit(
    repo, version, expected, commit_key, branch
):
    uri = f"file://{repo['path']}#proj"
    args = ["run", uri, "-P", "x=5"]
    if version is not None:
        args += ["--version", repo["v1"] if version == "COMMIT:v1" else version]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert f"version={expected} x=5" in result.stdout
    run = _last_run()
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == repo[commit_key]
    assert tags["mlflow.source.name"] == uri
    assert tags.get("mlflow.source.git.branch") == branch
    assert run.info.status == "FINISHED"


def test_short_commit_hash_works_as_version(repo):
    result = cli("run", f"file://{repo['path']}#proj", "--version", repo["v1"][:8])
    assert result.returncode == 0, result.stderr
    assert "version=v1" in result.stdout


def test_local_repository_path_with_version_is_cloned_at_that_version(repo):
    result = cli("run", str(repo["path"] / "proj"), "--version", "v1")
    assert result.returncode == 0, result.stderr
    assert "version=v1" in result.stdout
    assert _last_run().data.tags["mlflow.source.git.commit"] == repo["v1"]


def test_local_repository_without_version_runs_in_place_and_records_head(repo):
    write_files(repo["path"], {"proj/run.py": _version_script("uncommitted")})
    result = cli("run", str(repo["path"] / "proj"))
    assert result.returncode == 0, result.stderr
    assert "version=uncommitted" in result.stdout  # the working tree, as the user sees it
    tags = _last_run().data.tags
    assert tags["mlflow.source.git.commit"] == repo["v2"]
    assert tags["mlflow.source.git.branch"] == "main"


def test_new_commits_are_fetched_on_the_next_run(repo):
    uri = f"file://{repo['path']}#proj"
    assert "version=v2" in cli("run", uri).stdout
    write_files(repo["path"], {"proj/run.py": _version_script("v3")})
    v3 = commit_all(repo["path"], "v3")
    assert "version=v3" in cli("run", uri).stdout
    assert _last_run().data.tags["mlflow.source.git.commit"] == v3


def test_checkouts_are_removed_after_the_run(repo, tmp_path):
    assert cli("run", f"file://{repo['path']}#proj").returncode == 0
    checkouts = tmp_path / "cache" / "checkouts"
    assert not checkouts.exists() or list(checkouts.iterdir()) == []


def test_unknown_version_is_a_clear_error(repo):
    result = cli("run", f"file://{repo['path']}#proj", "--version", "no-such-branch")
    assert result.returncode == 1
    assert "'no-such-branch' is not a branch, tag or commit" in result.stderr
    assert list(TrackingClient().search_runs(["0"])) == []


def test_missing_subdirectory_is_a_clear_error(repo):
    result = cli("run", f"file://{repo['path']}#nope")
    assert result.returncode == 1
    assert "Subdirectory 'nope' does not exist" in result.stderr


def test_version_on_a_folder_outside_git_is_an_error(tmp_path):
    folder = write_files(tmp_path / "plain", {"a.py": ""})
    with pytest.raises(ProjectError, match="needs a git repository"):
        fetch_project(str(folder), version="main")


def test_unreachable_repository_is_a_clear_error(tmp_path):
    with pytest.raises(ProjectError, match="Could not clone"):
        fetch_project(f"file://{tmp_path / 'missing.git'}", version="main")


@pytest.mark.parametrize(
    "uri", ["repo#../up", "repo#a/../../b", "repo#a/./b", "repo#", "repo#a//b"]
)
def test_subdirectory_must_stay_inside_the_repository(uri):
    with pytest.raises(ProjectError, match="Invalid subdirectory"):
        split_subdirectory(uri)


def test_subdirectory_is_relative_to_the_repository_root():
    assert split_subdirectory("repo#/examples/a/") == ("repo", "examples/a")


def test_subdirectory_split_keeps_git_at_urls():
    assert split_subdirectory("git@example.com:org/repo.git#examples/a") == (
        "git@example.com:org/repo.git",
        "examples/a",
    )

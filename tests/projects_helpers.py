"""Helpers for the projects tests: project folders, real git repositories, the CLI as a process.

Each test module wraps `use_project_cache` in an autouse fixture over `tracking_uri`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from notebook_tracker import env
from notebook_tracker.client import TrackingClient

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def use_project_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give the test its own projects cache (git mirrors, envs); returns its folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(env.CACHE_DIR, str(cache))
    monkeypatch.delenv(env.PARENT_RUN_ID, raising=False)
    return cache


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def init_repo(repo: Path, files: dict[str, str]) -> str:
    """A git repository with `files` committed on branch main; returns the commit."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, files)
    return commit_all(repo, "initial")


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def cli(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`notebook-tracker ARGS` as a real process, with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_run(client: TrackingClient | None = None, experiment_id: str = "0"):  # type: ignore[no-untyped-def]
    client = client or TrackingClient()
    runs = list(client.search_runs([experiment_id]))
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def artifact_text(client: TrackingClient, run_id: str, path: str) -> str:
    from notebook_tracker.artifacts import get_artifact_repository

    repo = get_artifact_repository(client.get_run(run_id).info.artifact_uri)
    with repo.open_read(path) as stream:
        return stream.read().decode("utf-8")

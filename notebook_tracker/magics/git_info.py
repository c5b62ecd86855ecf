"""The git state of the working directory: commit, branch, dirty flag and the uncommitted diff.

One `git status` per tracked cell (plus `git diff` when dirty), each with a short timeout. When
a repository is slow (a status past `SLOW_S`), its answer is reused for `CACHE_S` seconds so
large repositories do not tax every cell.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 2.0
SLOW_S = 0.05
CACHE_S = 60.0
MAX_DIFF_BYTES = 1024 * 1024


@dataclass
class GitState:
    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    diff: bytes = b""
    diff_truncated: bool = False
    cached: bool = False


_cache: dict[str, tuple[float, GitState]] = {}


def find_repo(start: str | os.PathLike[str]) -> Path | None:
    """The top folder of the git work tree holding `start`, without running git."""
    path = Path(start).resolve()
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_status(output: str) -> tuple[str | None, str | None, bool]:
    """(commit, branch, dirty) from `git status --porcelain=v2 --branch`."""
    commit = branch = None
    dirty = False
    for line in output.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split(" ", 2)[2]
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.split(" ", 2)[2]
            branch = None if head == "(detached)" else head
        elif line and not line.startswith(("#", "?", "!")):
            dirty = True
    return commit, branch, dirty


def git_state(cwd: str | os.PathLike[str]) -> GitState | None:
    """The repository's state, or None outside a repository or without git."""
    repo = find_repo(cwd)
    if repo is None:
        return None
    key = str(repo)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() < cached[0]:
        return GitState(**{**cached[1].__dict__, "cached": True})
    started = time.monotonic()
    status = _git(["status", "--porcelain=v2", "--branch", "--untracked-files=no"], repo)
    if status is None:
        return None
    commit, branch, dirty = parse_status(status.decode("utf-8", "replace"))
    state = GitState(commit=commit, branch=branch, dirty=dirty)
    if dirty and commit:
        diff = _git(["diff", "--no-color", "--no-ext-diff", "HEAD"], repo) or b""
        state.diff_truncated = len(diff) > MAX_DIFF_BYTES
        state.diff = diff[:MAX_DIFF_BYTES]
    if time.monotonic() - started > SLOW_S:
        _cache[key] = (time.monotonic() + CACHE_S, state)
    return state


class GitProbe:
    """`git_state` in a background thread, so git runs while the cell does."""

    def __init__(self, cwd: str | os.PathLike[str]) -> None:
        self._state: GitState | None = None
        self._thread = threading.Thread(
            target=self._probe, args=(cwd,), name="notebook-tracker-git", daemon=True
        )
        self._thread.start()

    def _probe(self, cwd: str | os.PathLike[str]) -> None:
        try:
            self._state = git_state(cwd)
        except Exception:  # no git information is better than a failed run
            self._state = None

    def result(self) -> GitState | None:
        self._thread.join(timeout=3 * TIMEOUT_S)
        return self._state

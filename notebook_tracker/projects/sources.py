"""Where a project's files come from: a local folder, or a git repository at some version.

Git repositories are mirrored once under the cache (`git/`) and fetched again on each run;
each run gets its own checkout of the resolved commit, removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.cache import cache_root, file_lock, stable_hash

_GIT_PREFIXES = ("https://", "http://", "git@", "ssh://", "git://", "git+")


@dataclass
class ProjectSource:
    directory: Path  # the project folder (with #subdirectory applied)
    uri: str  # as the user gave it
    git_commit: str | None = None
    git_repo_url: str | None = None
    git_branch: str | None = None
    checkout: Path | None = None  # a temporary checkout to remove after the run

    def cleanup(self) -> None:
        if self.checkout is not None:
            shutil.rmtree(self.checkout, ignore_errors=True)
            self.checkout = None


def split_subdirectory(uri: str) -> tuple[str, str]:
    """`repo#sub/dir` -> ("repo", "sub/dir"); the subdirectory must stay inside the repo."""
    base, sep, sub = uri.rpartition("#")
    if not sep:
        return uri, ""
    sub = sub.strip("/")  # "repo#/examples" means the repository's own /examples
    parts = sub.split("/")
    if not sub or any(p in ("..", ".", "") for p in parts):
        raise ProjectError(
            f"Invalid subdirectory {sub!r} in {uri!r}: give a relative path inside the project, "
            "like repo#examples/train."
        )
    return base, sub


def is_git_uri(uri: str) -> bool:
    return uri.startswith(_GIT_PREFIXES) or uri.endswith(".git")


def fetch_project(uri: str, version: str | None = None) -> ProjectSource:
    """Resolve `uri` (with an optional `#subdirectory`) to a folder on this machine."""
    base, sub = split_subdirectory(uri)
    if base.startswith("file://"):
        local = Path(base[len("file://") :])
        if version is None and local.is_dir() and not _is_git_dir(local):
            return _local(uri, local, sub)
        return _from_git(uri, str(local.resolve()), sub, version)
    if is_git_uri(base):
        return _from_git(uri, base, sub, version)
    local = Path(base).expanduser()
    if not local.exists():
        raise ProjectError(
            f"Project {base!r} not found: give a local folder, or a git URL (https://, git@, "
            "file://)."
        )
    if version is not None:
        top = _git_toplevel(local)
        if top is None:
            raise ProjectError(
                f"--version {version!r} needs a git repository, but {local.resolve()} is not "
                "inside one."
            )
        inner = local.resolve().relative_to(top)
        sub = str(inner / sub) if sub else str(inner)
        return _from_git(uri, str(top), "" if sub == "." else sub, version)
    return _local(uri, local, sub)


def _local(uri: str, folder: Path, sub: str) -> ProjectSource:
    directory = (folder / sub).resolve() if sub else folder.resolve()
    if not directory.is_dir():
        raise ProjectError(f"Project folder {directory} does not exist or is not a folder.")
    source = ProjectSource(directory, uri)
    if _git_toplevel(directory) is not None:
        source.git_commit = _git(["rev-parse", "HEAD"], directory, check=False) or None
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], directory, check=False)
        source.git_branch = branch if branch and branch != "HEAD" else None
    return source


def _is_git_dir(path: Path) -> bool:
    return (path / ".git").exists() or (path / "HEAD").is_file() and (path / "objects").is_dir()


def _git_toplevel(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    top = _git(["rev-parse", "--show-toplevel"], folder, check=False)
    return Path(top).resolve() if top else None


def _git(args: list[str], cwd: Path | None, check: bool = True) -> str:
    if shutil.which("git") is None:
        if check:
            raise ProjectError("git is not installed: it is needed to run projects from git.")
        return ""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        env=env,
    )
    if proc.returncode != 0:
        if not check:
            return ""
        detail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ProjectError(f"git {args[0]} failed: {detail}")
    return proc.stdout.strip()


def _from_git(uri: str, repo: str, sub: str, version: str | None) -> ProjectSource:
    mirror = cache_root() / "git" / f"{stable_hash(repo)}.git"
    with file_lock(mirror.with_name(mirror.name + ".lock")):
        if (mirror / "HEAD").is_file():
            try:
                _git(["fetch", "--prune", "--quiet", "--tags", "origin"], mirror)
            except ProjectError as error:
                raise ProjectError(f"Could not fetch {repo}: {error.message}") from None
        else:
            if mirror.exists():
                shutil.rmtree(mirror)
            mirror.parent.mkdir(parents=True, exist_ok=True)
            try:
                _git(["clone", "--mirror", "--quiet", repo, str(mirror)], None)
            except ProjectError as error:
                shutil.rmtree(mirror, ignore_errors=True)
                raise ProjectError(f"Could not clone {repo}: {error.message}") from None
        commit, branch = _resolve_version(mirror, repo, version)
        checkouts = cache_root() / "checkouts"
        checkouts.mkdir(parents=True, exist_ok=True)
        checkout = Path(tempfile.mkdtemp(prefix=f"{commit[:12]}-", dir=checkouts))
    try:
        _git(["clone", "--quiet", "--shared", "--no-checkout", str(mirror), str(checkout)], None)
        _git(["checkout", "--quiet", "--detach", commit], checkout)
        if (checkout / ".gitmodules").is_file():
            _git(["submodule", "update", "--init", "--recursive", "--quiet"], checkout)
    except BaseException:
        shutil.rmtree(checkout, ignore_errors=True)
        raise
    directory = checkout / sub if sub else checkout
    if not directory.is_dir():
        shutil.rmtree(checkout, ignore_errors=True)
        raise ProjectError(f"Subdirectory {sub!r} does not exist in {repo} at {commit[:12]}.")
    return ProjectSource(directory.resolve(), uri, commit, repo, branch, checkout)


def _resolve_version(mirror: Path, repo: str, version: str | None) -> tuple[str, str | None]:
    if version is None:
        head = _git(["symbolic-ref", "--quiet", "HEAD"], mirror, check=False)
        commit = _git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], mirror, check=False)
        if not commit:
            raise ProjectError(f"Repository {repo} has no commits on its default branch.")
        return commit, head.removeprefix("refs/heads/") or None
    if version.startswith("-"):
        raise ProjectError(f"Invalid --version {version!r}.")
    commit = _git(
        ["rev-parse", "--verify", "--quiet", f"{version}^{{commit}}"], mirror, check=False
    )
    if not commit:
        raise ProjectError(f"--version {version!r} is not a branch, tag or commit of {repo}.")
    is_branch = _git_ok(["show-ref", "--verify", "--quiet", f"refs/heads/{version}"], mirror)
    return commit, version if is_branch else None


def _git_ok(args: list[str], cwd: Path) -> bool:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    return proc.returncode == 0

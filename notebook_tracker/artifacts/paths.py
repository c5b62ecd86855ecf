"""The one place that decides whether an artifact path is safe.

Every repository passes user-given artifact paths through `safe_relpath` before touching
storage, and walks local directories to upload with `walk_local_dir`, so the rules live here
once:

- an artifact path is relative and '/'-separated; it is normalised ('a//b/./c/' -> 'a/b/c',
  'a/../b' -> 'b'); '' and '.' mean the repository root;
- refused with `InvalidParameter`: '..' that would leave the root, absolute paths ('/x', 'C:x'),
  backslashes (a Windows separator that would otherwise smuggle '..\\x' past the check) and NUL
  or other control characters;
- a local directory being logged may contain symlinks only if they resolve inside that
  directory; a symlink pointing outside it (or a symlink loop, or a dangling link) refuses the
  whole upload before anything is copied, because silently uploading or silently dropping
  files the user did not expect are both worse than a clear error.
"""

from __future__ import annotations

import os
import posixpath
import re

from notebook_tracker.errors import InvalidParameter

ALLOWED = (
    "artifact paths are relative, '/'-separated paths inside the artifact root "
    "(e.g. 'plots/loss.png'); '..' may not leave the root, and absolute paths, "
    "backslashes and NUL/control characters are not allowed"
)

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse(path: object, reason: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid artifact path {path!r}: {reason}. Allowed: {ALLOWED}.")


# Deeper than any real artifact tree; a much deeper path would exhaust the recursion of
# os.makedirs (and PATH_MAX) before the server could refuse it cleanly.
MAX_DEPTH = 128


def safe_relpath(path: str | None) -> str:
    """Normalise a user-given artifact path to 'a/b/c' ('' = the root) or raise InvalidParameter."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise _refuse(path, f"expected a string, got {type(path).__name__}")
    if "\x00" in path:
        raise _refuse(path, "it contains a NUL byte")
    if _CONTROL.search(path):
        raise _refuse(path, "it contains a control character")
    if "\\" in path:
        raise _refuse(path, "it contains a backslash")
    if path.startswith("/") or _DRIVE.match(path):
        raise _refuse(path, "it is absolute")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _refuse(path, "'..' leads outside the artifact root")
            parts.pop()
            continue
        parts.append(part)
    if len(parts) > MAX_DEPTH:
        raise _refuse(path, f"it is {len(parts)} folders deep; at most {MAX_DEPTH} are allowed")
    return "/".join(parts)


def join(*paths: str | None) -> str:
    """Join artifact paths and check the result ('' parts and None are skipped)."""
    return safe_relpath(posixpath.join(*[p for p in paths if p]) if any(paths) else "")


def is_within(path: str, root: str) -> bool:
    """True when the real (symlink-resolved) `path` is `root` or below it; both are real paths."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk_local_dir(local_dir: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(local file, '/'-relative path) for every file below `local_dir`, sorted, symlinks checked.

    Symlinks are followed only when they resolve inside `local_dir`; anything else raises
    InvalidParameter naming the link, before the caller has copied a single file.
    """
    top = os.fspath(local_dir)
    if not os.path.isdir(top):
        raise InvalidParameter(f"Cannot log artifacts from {top!r}: it is not a directory.")
    top_real = os.path.realpath(top)
    found: list[tuple[str, str]] = []

    def visit(directory: str, rel: str, ancestors: frozenset[str]) -> None:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            entry_rel = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not is_within(target, top_real):
                    raise InvalidParameter(
                        f"Refusing to log {top!r}: {entry_rel!r} is a symlink to {target!r}, "
                        f"outside the directory being logged. Copy the file in, or remove the link."
                    )
                if not os.path.exists(entry.path):
                    raise InvalidParameter(
                        f"Refusing to log {top!r}: {entry_rel!r} is a symlink to nothing."
                    )
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                if real in ancestors:
                    raise InvalidParameter(
                        f"Refusing to log {top!r}: {entry_rel!r} is a symlink loop."
                    )
                visit(entry.path, entry_rel, ancestors | {real})
            elif entry.is_file():
                found.append((entry.path, safe_relpath(entry_rel)))
            # sockets, FIFOs and devices are not artifacts: skipped.

    visit(top, "", frozenset({top_real}))
    return found

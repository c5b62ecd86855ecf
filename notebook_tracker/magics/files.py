"""Files a cell created or modified under the working directory, found by a bounded scan.

The scan is what `%%track_run` pays on every cell, so it is bounded: hidden folders (the store
`.notebook_tracker/`, `.git`, `.ipynb_checkpoints`...), `__pycache__` and `node_modules` are not
entered, folders deeper than `MAX_DEPTH` are not entered, and past `MAX_ENTRIES` files the scan
gives up and file capture is off for that cell (the run says so; `--artifacts` still works).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_ENTRIES = 2000
MAX_DEPTH = 3
MAX_FILE_BYTES = 50 * 1024 * 1024
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


@dataclass
class FileSnapshot:
    root: str
    entries: dict[str, tuple[int, int]] = field(default_factory=dict)  # relpath -> (mtime, size)
    complete: bool = True


def snapshot(
    root: str | os.PathLike[str],
    exclude: tuple[str, ...] = (),
    max_entries: int = MAX_ENTRIES,
    max_depth: int = MAX_DEPTH,
) -> FileSnapshot:
    """mtimes and sizes of the visible files under `root` (absolute paths in `exclude` skipped)."""
    root = os.path.abspath(root)
    snap = FileSnapshot(root)
    excluded = {os.path.abspath(e) for e in exclude}
    stack: list[tuple[str, int]] = [(root, 0)]
    count = 0
    while stack:
        folder, depth = stack.pop()
        try:
            it = os.scandir(folder)
        except OSError:
            continue
        with it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if name in SKIP_DIRS or depth >= max_depth or entry.path in excluded:
                            continue
                        stack.append((entry.path, depth + 1))
                        continue
                    if not entry.is_file(follow_symlinks=False) or entry.path in excluded:
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                count += 1
                if count > max_entries:
                    snap.complete = False
                    return snap
                snap.entries[os.path.relpath(entry.path, root)] = (st.st_mtime_ns, st.st_size)
    return snap


@dataclass
class FileChanges:
    changed: list[str] = field(default_factory=list)  # relative paths, created or modified
    too_large: list[str] = field(default_factory=list)
    skipped_reason: str | None = None


def changes(
    before: FileSnapshot, after: FileSnapshot, max_bytes: int = MAX_FILE_BYTES
) -> FileChanges:
    """Files present after whose mtime or size differs from before (or that are new)."""
    out = FileChanges()
    if not (before.complete and after.complete):
        out.skipped_reason = (
            f"more than {MAX_ENTRIES} files under {before.root}: automatic file capture is off "
            "for this folder; name files with --artifacts GLOB"
        )
        return out
    for rel, (mtime, size) in sorted(after.entries.items()):
        if before.entries.get(rel) == (mtime, size):
            continue
        if size > max_bytes:
            out.too_large.append(rel)
        else:
            out.changed.append(rel)
    return out


def expand_globs(patterns: list[str], root: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(file, artifact path) for each file matching the `--artifacts` globs.

    A file under `root` keeps its relative path; one outside it (an absolute glob) keeps only its
    name, so an artifact path never climbs out of the run's artifact folder.
    """
    root_path = Path(root).resolve()
    found: dict[str, str] = {}
    for pattern in patterns:
        full = os.path.expanduser(pattern)
        if not os.path.isabs(full):
            full = os.path.join(root_path, full)
        for match in sorted(glob.glob(full, recursive=True)):
            path = Path(match).resolve()
            if not path.is_file():
                continue
            try:
                rel = path.relative_to(root_path).as_posix()
            except ValueError:
                rel = path.name
            found.setdefault(str(path), rel)
    return list(found.items())

"""The artifact repository interface: one root URI, paths below it, files in and out by streaming.

Subclasses implement the storage primitives; directory upload and recursive download are done
here once, on top of them, so every store checks paths the same way (see `paths.py`).
"""

from __future__ import annotations

import io
import os
import tempfile
from abc import ABC, abstractmethod
from typing import BinaryIO

from notebook_tracker.artifacts.paths import join, safe_relpath, walk_local_dir
from notebook_tracker.entities import FileInfo
from notebook_tracker.errors import InvalidParameter, NotFound


class ArtifactRepository(ABC):
    """Files under `root_uri`. Paths are relative, '/'-separated, and never leave the root."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root_uri!r})"

    # -- primitives each store implements ------------------------------------------------

    @abstractmethod
    def _upload_file(self, local_file: str, rel: str) -> None:
        """Copy a local file to the (already checked, non-empty) path `rel`."""

    @abstractmethod
    def _upload_stream(self, fileobj: BinaryIO, rel: str) -> None:
        """Stream a readable binary file object to `rel` without holding it all in memory."""

    @abstractmethod
    def _download_file(self, rel: str, local_file: str) -> None:
        """Copy the file at `rel` to `local_file` (its directory exists)."""

    @abstractmethod
    def _list(self, rel: str) -> list[FileInfo]:
        """Direct children of directory `rel`, paths relative to the root; [] if not a dir."""

    @abstractmethod
    def _open_read(self, rel: str) -> BinaryIO:
        """A binary stream of the file at `rel`; NotFound when there is none."""

    @abstractmethod
    def _is_file(self, rel: str) -> bool: ...

    @abstractmethod
    def _is_dir(self, rel: str) -> bool: ...

    @abstractmethod
    def _delete(self, rel: str) -> None:
        """Delete the file or directory tree at `rel` ('' = everything); missing is fine."""

    # -- public API -----------------------------------------------------------------------

    def log_artifact(
        self, local_file: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload one local file as `<artifact_path>/<its name>`."""
        local = os.fspath(local_file)
        if not os.path.isfile(local):
            raise InvalidParameter(f"Cannot log artifact {local!r}: no such file.")
        self._upload_file(local, join(artifact_path, os.path.basename(local)))

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload every file below `local_dir` under `artifact_path`, keeping the layout.

        Refuses (before uploading anything) a directory holding a symlink that resolves
        outside it. Empty directories are not recorded, the same on every store.
        """
        prefix = safe_relpath(artifact_path)
        for local, rel in walk_local_dir(local_dir):
            self._upload_file(local, join(prefix, rel))

    def write_bytes(self, path: str, data: bytes) -> None:
        """Store `data` as the file `path`, replacing any previous content."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidParameter(f"write_bytes needs bytes, got {type(data).__name__}.")
        self._upload_stream(io.BytesIO(data), self._file_path(path))

    def write_stream(self, path: str, fileobj: BinaryIO) -> None:
        """Store everything read from `fileobj` as the file `path`, in chunks (large uploads)."""
        self._upload_stream(fileobj, self._file_path(path))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of `path`, sorted by path; [] for a file or a missing directory."""
        rel = safe_relpath(path)
        return sorted(self._list(rel), key=lambda f: f.path)

    def download_artifacts(
        self, path: str | None, dst_dir: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy the file or directory tree at `path` into `dst_dir` (a new temp dir when None).

        Returns the local path of the copy: `<dst_dir>/<path>`.
        """
        rel = safe_relpath(path)
        dst = (
            os.fspath(dst_dir) if dst_dir is not None else tempfile.mkdtemp(prefix="nt-artifacts-")
        )
        local = os.path.join(dst, *rel.split("/")) if rel else dst
        if rel and self._is_file(rel):
            os.makedirs(os.path.dirname(local), exist_ok=True)
            self._download_file(rel, local)
            return local
        if rel and not self._is_dir(rel):
            raise NotFound(f"No artifact {rel!r} under {self.root_uri}.")
        os.makedirs(local, exist_ok=True)
        self._download_tree(rel, dst)
        return local

    def open_read(self, path: str) -> BinaryIO:
        """A binary file object streaming the artifact `path`; close it when done."""
        return self._open_read(self._file_path(path))

    def exists(self, path: str | None) -> bool:
        rel = safe_relpath(path)
        if rel and self._is_file(rel):
            return True
        return self._is_dir(rel)

    def is_dir(self, path: str | None) -> bool:
        return self._is_dir(safe_relpath(path))

    def delete_artifacts(self, path: str | None = None) -> None:
        """Delete the file or directory `path`, or every artifact under the root when None."""
        self._delete(safe_relpath(path))

    # -- helpers --------------------------------------------------------------------------

    def _file_path(self, path: str) -> str:
        rel = safe_relpath(path)
        if not rel:
            raise InvalidParameter(
                f"Invalid artifact path {path!r}: a file path is needed, not the artifact root."
            )
        return rel

    def _download_tree(self, rel: str, dst: str) -> None:
        for info in self._list(rel):
            # Listed names come from storage other writers share: check them again before
            # turning them into local paths.
            child = safe_relpath(info.path)
            if not child.startswith(f"{rel}/" if rel else "") or child == rel:
                raise InvalidParameter(f"Artifact store listed {info.path!r} outside {rel!r}.")
            local = os.path.join(dst, *child.split("/"))
            if info.is_dir:
                os.makedirs(local, exist_ok=True)
                self._download_tree(child, dst)
            else:
                os.makedirs(os.path.dirname(local), exist_ok=True)
                self._download_file(child, local)

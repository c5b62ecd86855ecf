"""Artifacts in a local directory (a plain path or a `file://` URI).

Files are written to a temporary name next to the destination and renamed into place, so a
reader never sees half a file and an interrupted upload leaves nothing behind.

Symlinks: a path that resolves (through a symlink inside the root) to somewhere outside the
root is refused with InvalidParameter for reading, writing, listing and downloading; when a
directory is listed, entries that are such symlinks are left out, as they are not part of the
repository. Deleting a symlink removes the link only.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from typing import BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

from notebook_tracker.artifacts.base import ArtifactRepository
from notebook_tracker.artifacts.paths import ALLOWED, is_within
from notebook_tracker.entities import FileInfo
from notebook_tracker.errors import InvalidParameter, NotFound

_TMP_PREFIX = ".nt-upload-"
_CHUNK = 1024 * 1024


def local_path_from_uri(uri: str) -> str:
    """The absolute local path named by a plain path or a `file:` URI."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameter(
                f"Unsupported file URI {uri!r}: host {parsed.netloc!r} is not local. "
                "Use file:///absolute/path or a plain path."
            )
        path = url2pathname(parsed.path)
    else:
        path = uri
    return os.path.abspath(os.path.expanduser(path))


class LocalArtifactRepository(ArtifactRepository):
    """Artifacts as files below a local directory, created on first write."""

    def __init__(self, root_uri: str) -> None:
        super().__init__(root_uri)
        self.root = local_path_from_uri(root_uri)

    # -- path resolution ------------------------------------------------------------------

    def _resolve(self, rel: str) -> str:
        """The local path of checked artifact path `rel`, refusing symlinks that leave the root."""
        target = os.path.join(self.root, *rel.split("/")) if rel else self.root
        if not is_within(os.path.realpath(target), os.path.realpath(self.root)):
            raise InvalidParameter(
                f"Invalid artifact path {rel!r}: it goes through a symlink that points outside "
                f"the artifact root {self.root_uri!r}. Allowed: {ALLOWED}, and symlinks must "
                "stay inside the root."
            )
        return target

    # -- primitives -----------------------------------------------------------------------

    def _upload_file(self, local_file: str, rel: str) -> None:
        with open(local_file, "rb") as src:
            self._upload_stream(src, rel)

    def _upload_stream(self, fileobj: BinaryIO, rel: str) -> None:
        dest = self._resolve(rel)
        if os.path.isdir(dest):
            raise InvalidParameter(
                f"Cannot write artifact {rel!r}: a directory of that name exists. "
                "Delete it first or choose another path."
            )
        directory = os.path.dirname(dest)
        try:
            os.makedirs(directory, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidParameter(
                f"Cannot write artifact {rel!r}: a file is in the way of its directory "
                f"{posixpath.dirname(rel)!r}. Delete that file or choose another path."
            ) from exc
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(fileobj, out, _CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _download_file(self, rel: str, local_file: str) -> None:
        src = self._resolve(rel)
        if not os.path.isfile(src):
            raise NotFound(f"No artifact file {rel!r} under {self.root_uri}.")
        shutil.copyfile(src, local_file)

    def _list(self, rel: str) -> list[FileInfo]:
        directory = self._resolve(rel)
        if not os.path.isdir(directory):
            return []
        root_real = os.path.realpath(self.root)
        infos = []
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith(_TMP_PREFIX):
                    continue
                if entry.is_symlink() and not is_within(os.path.realpath(entry.path), root_real):
                    continue
                child = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir():
                    infos.append(FileInfo(path=child, is_dir=True, file_size=None))
                elif entry.is_file():
                    infos.append(FileInfo(path=child, is_dir=False, file_size=entry.stat().st_size))
        return infos

    def _open_read(self, rel: str) -> BinaryIO:
        path = self._resolve(rel)
        if not os.path.isfile(path):
            raise NotFound(f"No artifact file {rel!r} under {self.root_uri}.")
        return open(path, "rb")

    def _is_file(self, rel: str) -> bool:
        return os.path.isfile(self._resolve(rel))

    def _is_dir(self, rel: str) -> bool:
        return os.path.isdir(self._resolve(rel))

    def _delete(self, rel: str) -> None:
        if not rel:
            if os.path.isdir(self.root):
                shutil.rmtree(os.path.realpath(self.root))
            return
        # Resolve the parent only, so a symlink named by `rel` is unlinked, never followed.
        parent = self._resolve(posixpath.dirname(rel))
        target = os.path.join(parent, posixpath.basename(rel))
        if os.path.islink(target) or os.path.isfile(target):
            os.unlink(target)
        elif os.path.isdir(target):
            shutil.rmtree(target)

"""Artifacts behind a tracking server's artifact proxy (`api/2.0/mlflow-artifacts/artifacts`).

URIs: `mlflow-artifacts:/<path>` (on the server of the current http(s) tracking URI),
`mlflow-artifacts://host:port/<path>`, or the proxy's full URL
`http(s)://host[:port][/prefix]/api/2.0/mlflow-artifacts/artifacts/<path>`. Files stream both
ways; the server checks paths again on its side.

The tracking token goes only to the tracking server itself: an artifact URI naming another host
(an experiment location someone else chose) gets no Authorization header.
"""

from __future__ import annotations

import os
import posixpath
from typing import BinaryIO
from urllib.parse import quote, urlsplit

from notebook_tracker.artifacts.base import ArtifactRepository
from notebook_tracker.artifacts.paths import join, safe_relpath
from notebook_tracker.entities import FileInfo
from notebook_tracker.errors import InvalidParameter, NotFound

PROXY_PATH = "api/2.0/mlflow-artifacts/artifacts"
_CHUNK = 1024 * 1024


def split_proxy_uri(uri: str) -> tuple[str, str]:
    """(server base URL, path under the proxy) of an artifact URI served by a tracking server."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "mlflow-artifacts":
        if parts.netloc:
            return f"http://{parts.netloc}", parts.path.strip("/")
        from notebook_tracker import config

        tracking = config.get_tracking_uri()
        if not tracking.startswith(("http://", "https://")):
            raise InvalidParameter(
                f"Artifact URI {uri!r} lives on a tracking server, but the tracking URI is "
                f"{tracking!r}: set NOTEBOOK_TRACKER_URI (or set_tracking_uri) to the server's "
                "http(s):// URL."
            )
        return tracking.rstrip("/"), parts.path.strip("/")
    if scheme in ("http", "https"):
        marker = f"/{PROXY_PATH}"
        head, found, tail = uri.partition(marker)
        if found:
            return head, tail.strip("/")
    raise InvalidParameter(
        f"Unsupported artifact URI {uri!r}: an HTTP artifact URI must point at a tracking "
        f"server's artifact proxy, .../{PROXY_PATH}/<path>."
    )


def token_for(base: str) -> str | None:
    """None (the Transport reads the token from the environment) when `base` is the tracking
    server; "" (no token) for any other host."""
    from notebook_tracker import config

    tracking = config.get_tracking_uri()
    if tracking.startswith(("http://", "https://")):
        if urlsplit(tracking).netloc.lower() == urlsplit(base).netloc.lower():
            return None
    return ""


class HttpArtifactRepository(ArtifactRepository):
    def __init__(self, root_uri: str) -> None:
        super().__init__(root_uri)
        from notebook_tracker.store.rest_transport import Transport

        base, root = split_proxy_uri(root_uri)
        self.root_path = safe_relpath(root)
        self.http = Transport(base, token=token_for(base))

    def _endpoint(self, rel: str) -> str:
        return f"{PROXY_PATH}/{quote(join(self.root_path, rel))}"

    # -- primitives -----------------------------------------------------------------------
    def _upload_file(self, local_file: str, rel: str) -> None:
        with open(local_file, "rb") as src:
            self._upload_stream(src, rel)

    def _upload_stream(self, fileobj: BinaryIO, rel: str) -> None:
        self.http.request(
            "PUT",
            self._endpoint(rel),
            data=fileobj,
            headers={"Content-Type": "application/octet-stream"},
        )

    def _download_file(self, rel: str, local_file: str) -> None:
        response = self.http.request("GET", self._endpoint(rel), stream=True)
        tmp = f"{local_file}.part"
        try:
            with open(tmp, "wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    out.write(chunk)
            os.replace(tmp, local_file)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _list(self, rel: str) -> list[FileInfo]:
        listed = join(self.root_path, rel)
        data = self.http.call("GET", PROXY_PATH, params={"path": listed} if listed else None)
        infos = []
        for f in data.get("files") or []:
            # The proxy names entries relative to the listed directory.
            name = posixpath.basename(str(f.get("path", "")).rstrip("/"))
            if not name:
                continue
            size = f.get("file_size")
            is_dir = bool(f.get("is_dir", False))
            infos.append(
                FileInfo(
                    path=join(rel, name),
                    is_dir=is_dir,
                    file_size=None if is_dir or size is None else int(size),
                )
            )
        return infos

    def _open_read(self, rel: str) -> BinaryIO:
        return self.http.request("GET", self._endpoint(rel), stream=True).raw_stream()

    def _entry(self, rel: str) -> FileInfo | None:
        parent = posixpath.dirname(rel)
        for info in self._list(parent):
            if info.path == rel:
                return info
        return None

    def _is_file(self, rel: str) -> bool:
        entry = self._entry(rel) if rel else None
        return entry is not None and not entry.is_dir

    def _is_dir(self, rel: str) -> bool:
        if not rel:
            return True
        entry = self._entry(rel)
        return entry is not None and entry.is_dir

    def _delete(self, rel: str) -> None:
        try:
            self.http.request("DELETE", self._endpoint(rel))
        except NotFound:
            pass

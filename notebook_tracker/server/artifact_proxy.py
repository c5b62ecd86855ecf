"""The MLflow-compatible artifact proxy: `api/2.0/mlflow-artifacts/artifacts[/<path>]`.

Clients whose runs have `mlflow-artifacts:/<path>` artifact URIs upload, download, list and
delete files here; `<path>` is relative to the server's artifacts destination (a directory
or `s3://bucket/prefix`). Uploads are streamed to a spooled temporary file while they arrive
(spilling to disk past a few MB), then handed to the artifact repository, which streams them
on (multipart on S3); downloads are streamed back in chunks. The destination comes from the
context's one resolver (`TrackerContext.artifact_repository`) and paths are checked by the
artifact layer: nothing is read or written outside the destination.
"""

from __future__ import annotations

import errno
import mimetypes
import posixpath
import tempfile
from typing import TYPE_CHECKING, Any

import tornado.web

from notebook_tracker import wire
from notebook_tracker.artifacts.paths import safe_relpath
from notebook_tracker.errors import EndpointNotFound, InvalidParameter, NotFound, PayloadTooLarge
from notebook_tracker.server.base import (
    DRAIN_BYTES,
    JSON_TYPE,
    NO_TORNADO_LIMIT,
    TrackerHandler,
    content_disposition,
)

if TYPE_CHECKING:
    from notebook_tracker.artifacts.base import ArtifactRepository
    from notebook_tracker.server.context import TrackerContext

DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024**3
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
# Errors that say the path cannot exist on the destination, not that the server is failing.
_PATH_ERRNOS = {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EINVAL}


class ArtifactDestination:
    """The server's artifacts destination, its repository opened once per process."""

    def __init__(self, context: TrackerContext, max_upload_bytes: int) -> None:
        self.context = context
        self.max_upload_bytes = max_upload_bytes
        self._repo: ArtifactRepository | None = None

    @property
    def repo(self) -> ArtifactRepository:
        if self._repo is None:
            root = self.context.artifact_root
            if not root:
                raise EndpointNotFound(
                    "This server does not proxy artifacts (it has no artifacts destination); "
                    "start it with --artifacts-destination, or write to the runs' artifact "
                    "locations directly."
                )
            # Through the context's resolver like every other location (the destination root).
            self._repo = self.context.artifact_repository("mlflow-artifacts:/")
        return self._repo


def _file_path(path: str | None) -> str:
    rel = safe_relpath(path or "")
    if not rel:
        raise InvalidParameter(
            "Invalid artifact path '': name a file below the artifacts destination, "
            "e.g. api/2.0/mlflow-artifacts/artifacts/1/<run_id>/artifacts/model.pkl."
        )
    return rel


@tornado.web.stream_request_body
class ArtifactProxyHandler(TrackerHandler):
    """GET a file, GET (no path) a listing, PUT a file, DELETE a file or directory."""

    _spool: Any = None
    _received = 0

    @property
    def destination(self) -> ArtifactDestination:
        destination: ArtifactDestination = self.route_options["destination"]
        return destination

    async def prepare(self) -> None:
        pending = super().prepare()  # authentication, from the auth base bound to this class
        if pending is not None:
            await pending
        if self._finished:
            return
        if self.request.method == "PUT":
            limit = self.destination.max_upload_bytes
            declared = self.request.headers.get("Content-Length")
            if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(
                    f"Artifact upload of {declared} bytes exceeds this server's limit of {limit} "
                    "bytes (--max-artifact-size)."
                )
            self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
        # Limits are enforced in data_received, with JSON 413s; tornado's own is a bare 400.
        self.request.connection.set_max_body_size(NO_TORNADO_LIMIT)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        # Other verbs carry no meaningful body: they are held to the JSON limit.
        uploading = self._spool is not None
        limit = self.destination.max_upload_bytes if uploading else self.context.max_body_bytes
        self._received += len(chunk)
        if self._received > limit + DRAIN_BYTES:  # not worth reading on: answer now
            if not self._finished:
                too_large = PayloadTooLarge(
                    f"Request body exceeds this server's limit of {limit} bytes"
                    + (" (--max-artifact-size)." if uploading else ".")
                )
                self.send_error(413, exc_info=(PayloadTooLarge, too_large, None))
            return
        if uploading and self._received <= limit:
            self._spool.write(chunk)

    def on_finish(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def on_connection_close(self) -> None:
        self.on_finish()

    def _write_json(self, payload: dict[str, Any]) -> None:
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(wire.dumps(payload))

    @tornado.web.authenticated
    async def put(self, path: str | None = None) -> None:
        rel = _file_path(path)
        if self._received > self.destination.max_upload_bytes:
            raise PayloadTooLarge(
                f"Artifact upload exceeds this server's limit of "
                f"{self.destination.max_upload_bytes} bytes."
            )
        repo = self.destination.repo
        self._spool.seek(0)
        try:
            await self.run(repo.write_stream, rel, self._spool)
        except OSError as exc:
            if exc.errno not in _PATH_ERRNOS:
                raise
            raise InvalidParameter(
                f"Cannot store artifact {rel!r}: {exc.strerror or exc}. Use a shorter path "
                "made of ordinary directory and file names."
            ) from None
        self._write_json({})

    @tornado.web.authenticated
    async def get(self, path: str | None = None) -> None:
        if not path:
            await self._list()
            return
        rel = _file_path(path)
        name = posixpath.basename(rel)
        self.set_header("Content-Type", mimetypes.guess_type(name)[0] or "application/octet-stream")
        self.set_header("Content-Disposition", content_disposition("attachment", name))
        self.set_header("X-Content-Type-Options", "nosniff")
        try:
            stream = await self.run(self.destination.repo.open_read, rel)
        except NotFound:  # an error answer clears the headers set above
            raise NotFound(f"No such artifact: '{rel}'.") from None
        await self.send_stream(stream)

    async def _list(self) -> None:
        rel = safe_relpath(self.get_query_argument("path", "") or "")
        files = await self.run(self.destination.repo.list_artifacts, rel or None)
        entries = [
            wire.compact(
                {
                    "path": posixpath.basename(f.path),
                    "is_dir": f.is_dir,
                    "file_size": f.file_size,
                }
            )
            for f in files
        ]
        self._write_json(wire.compact({"files": entries}))

    @tornado.web.authenticated
    async def delete(self, path: str | None = None) -> None:
        rel = _file_path(path)
        await self.run(self.destination.repo.delete_artifacts, rel)
        self._write_json({})

    @tornado.web.authenticated
    async def post(self, path: str | None = None) -> None:
        raise EndpointNotFound(
            "Multipart uploads through the proxy are not supported by this server: "
            "upload with a single PUT."
        )


def artifact_proxy_handlers(
    prefix: str, context: TrackerContext, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> list[tuple[Any, ...]]:
    destination = ArtifactDestination(context, max_upload_bytes)
    base = prefix + "api/2.0/mlflow-artifacts/"
    return [
        (base + r"artifacts/?", ArtifactProxyHandler, {"destination": destination}),
        (base + r"artifacts/(.+)", ArtifactProxyHandler, {"destination": destination}),
        (base + r"mpu/(?:create|complete|abort)/(.+)", ArtifactProxyHandler,
         {"destination": destination}),
    ]  # fmt: skip

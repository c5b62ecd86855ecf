"""The native API's artifact handlers: a run's file listing and one file's raw bytes."""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any

import tornado.web

from notebook_tracker.artifacts.base import ArtifactRepository
from notebook_tracker.entities import FileInfo
from notebook_tracker.server.base import content_disposition
from notebook_tracker.server.context import TrackerContext
from notebook_tracker.server.native_base import ApiHandler

# Artifacts are user content served from the Jupyter origin: never let one run script there.
_ARTIFACT_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def file_json(info: FileInfo) -> dict[str, Any]:
    return {"path": info.path, "is_dir": info.is_dir, "file_size": info.file_size}


class ArtifactListHandler(ApiHandler):
    query_params = frozenset({"path"})

    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        path = self.str_arg("path") or None
        files = await self.run(_list_artifacts, self.context, run_id, path)
        self.write_json({"files": [file_json(f) for f in files]})


def _repo_for_run(context: TrackerContext, run_id: str) -> ArtifactRepository:
    run = context.client.get_run(run_id)
    return context.artifact_repository(run.info.artifact_uri)


def _list_artifacts(context: TrackerContext, run_id: str, path: str | None) -> list[FileInfo]:
    return _repo_for_run(context, run_id).list_artifacts(path)


def _open_artifact(context: TrackerContext, run_id: str, path: str) -> Any:
    return _repo_for_run(context, run_id).open_read(path)


def content_type_for(path: str) -> str:
    guessed, encoding = mimetypes.guess_type(posixpath.basename(path))
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


class ArtifactRawHandler(ApiHandler):
    query_params = frozenset({"download"})

    @tornado.web.authenticated
    async def get(self, run_id: str, path: str) -> None:
        self.set_header("Content-Type", content_type_for(path))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", _ARTIFACT_CSP)
        disposition = "attachment" if self.get_query_argument("download", "") else "inline"
        self.set_header(
            "Content-Disposition", content_disposition(disposition, posixpath.basename(path))
        )
        # An error while opening clears these headers and answers JSON instead.
        stream = await self.run(_open_artifact, self.context, run_id, path)
        await self.send_stream(stream)

"""`/health`, `/version` and `/api/3.0/mlflow/server-info`: what MLflow clients probe."""

from __future__ import annotations

import functools
from typing import Any

import tornado.web

from notebook_tracker import wire
from notebook_tracker.server.base import JSON_TYPE, TrackerHandler


@functools.cache
def server_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("notebook-tracker")
    except PackageNotFoundError:
        return "0.0.0"


class HealthHandler(TrackerHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish("OK")


class VersionHandler(TrackerHandler):
    """This server's own version (clients only compare it to enable tracing features)."""

    @tornado.web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(server_version())


class ServerInfoHandler(TrackerHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        info: dict[str, Any] = {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
            "server": "notebook-tracker",
            "version": server_version(),
        }
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(wire.dumps(info))


def meta_handlers(prefix: str) -> list[tuple[Any, ...]]:
    return [
        (prefix + "health", HealthHandler),
        (prefix + "version", VersionHandler),
        (prefix + r"(?:ajax-)?api/3\.0/mlflow/server-info", ServerInfoHandler),
    ]

"""What every handler needs, built once per server: the tracking client and a thread pool.

Store calls block (SQL, S3, files), so handlers run them with `await context.run(fn, ...)` on a
small thread pool and the IO loop keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from notebook_tracker.artifacts.base import ArtifactRepository
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.store.base import TrackingStore

T = TypeVar("T")

Mode = Literal["jupyter", "standalone"]

PROXY_SCHEME = "mlflow-artifacts:"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


class TrackerContext:
    """Shared state of one server process.

    - `tracking_uri`: the store every handler talks to.
    - `artifact_root`: where the server keeps artifacts it proxies (a path or `s3://...`);
      None means runs' own artifact URIs are used directly.
    - `mode`: "jupyter" (handlers sit behind the Jupyter server's auth) or "standalone"
      (a plain tornado app; `auth_token`, when set, is required on every request).
    - `max_body_bytes`: JSON request bodies above this are refused with 413.
    - `store`: an already opened store to use instead of opening `tracking_uri`.
    """

    def __init__(
        self,
        tracking_uri: str,
        artifact_root: str | None = None,
        *,
        mode: Mode = "jupyter",
        auth_token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_workers: int | None = None,
        store: TrackingStore | None = None,
    ) -> None:
        if mode not in ("jupyter", "standalone"):
            raise ValueError(f"mode must be 'jupyter' or 'standalone', not {mode!r}")
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.mode: Mode = mode
        self.auth_token = auth_token or None
        self.max_body_bytes = max_body_bytes
        self._store = store
        self._client: TrackingClient | None = None
        self._lock = threading.Lock()
        workers = max_workers or min(8, (os.cpu_count() or 1) + 2)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nt-server")

    @property
    def client(self) -> TrackingClient:
        """The TrackingClient of this server (opened on first use: opening checks the schema)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from notebook_tracker.client import TrackingClient

                    client = TrackingClient(self.tracking_uri)
                    if self._store is not None:
                        client.store = self._store
                    self._client = client
        return self._client

    @property
    def store(self) -> TrackingStore:
        return self.client.store

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on the pool; its exceptions propagate to the awaiting handler."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        """The repository behind a run's or experiment's artifact URI, as seen by this server.

        `mlflow-artifacts:/<path>` (and `mlflow-artifacts://host/<path>`) are URIs of artifacts
        this server proxies: they resolve to `<artifact_root>/<path>`, never to an HTTP call to
        itself. Any other URI goes to the artifact factory as is.
        """
        from notebook_tracker.artifacts import get_artifact_repository

        if artifact_uri.startswith(PROXY_SCHEME):
            if not self.artifact_root:
                from notebook_tracker.errors import InvalidParameter

                raise InvalidParameter(
                    f"Artifact URI {artifact_uri!r} points at a proxied artifact store, but this "
                    "server has no artifact destination: start it with --artifacts-destination."
                )
            return get_artifact_repository(self.proxied_location(artifact_uri))
        return get_artifact_repository(artifact_uri)

    def proxied_location(self, artifact_uri: str) -> str:
        """`mlflow-artifacts:/a/b` -> `<artifact_root>/a/b`, the path checked to stay inside."""
        from urllib.parse import urlparse

        from notebook_tracker.artifacts.paths import safe_relpath

        rel = safe_relpath(urlparse(artifact_uri).path.lstrip("/"))
        root = (self.artifact_root or "").rstrip("/")
        return f"{root}/{rel}" if rel else root

    def bind(self, handler: type) -> type:
        """The concrete handler class for this context's mode (see `server.base`)."""
        from notebook_tracker.server.base import bind_handler

        return bind_handler(handler, self.mode)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return f"TrackerContext({self.tracking_uri!r}, mode={self.mode!r})"

"""What every handler needs, built once per server: the tracking client and a thread pool.

Store calls block (SQL, S3, files), so handlers run them with `await context.run(fn, ...)` on a
small thread pool and the IO loop keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from notebook_tracker.artifacts.base import ArtifactRepository
    from notebook_tracker.artifacts.roots import ArtifactRoots
    from notebook_tracker.client import TrackingClient
    from notebook_tracker.server.model_serving import ModelServing
    from notebook_tracker.store.base import TrackingStore

T = TypeVar("T")

Mode = Literal["jupyter", "standalone"]

PROXY_SCHEME = "mlflow-artifacts:"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
ROOTS_HINT = {
    "standalone": "Start the server with --allowed-artifact-root to allow another root.",
    "jupyter": "Set c.NotebookTracker.allowed_artifact_roots to allow another root.",
}


class TrackerContext:
    """Shared state of one server process.

    - `tracking_uri`: the store every handler talks to.
    - `artifact_root`: where the server keeps artifacts it proxies (a path or `s3://...`),
      the root `mlflow-artifacts:` locations map to; None: this server proxies nothing.
    - `allowed_artifact_roots`: more roots (paths or `s3://...`) an operator allows besides
      `artifact_root` and the store's default artifact root. Every location the server touches
      must lie inside one of them (see `confine`).
    - `mode`: "jupyter" (handlers sit behind the Jupyter server's auth) or "standalone"
      (a plain tornado app; `auth_token`, when set, is required on every request).
    - `max_body_bytes`: JSON request bodies above this are refused with 413.
    - `store`: an already opened store to use instead of opening `tracking_uri`.
    - `max_upload_bytes`: the artifact proxy's upload limit (None: its default).
    - `serving_enabled`, `serve_registered_only`: what `model_serving` may serve.
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
        allowed_artifact_roots: Sequence[str] = (),
        max_upload_bytes: int | None = None,
        serving_enabled: bool = True,
        serve_registered_only: bool = False,
    ) -> None:
        if mode not in ("jupyter", "standalone"):
            raise ValueError(f"mode must be 'jupyter' or 'standalone', not {mode!r}")
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.mode: Mode = mode
        self.auth_token = auth_token or None
        self.max_body_bytes = max_body_bytes
        self._store = store
        self.allowed_artifact_roots = tuple(allowed_artifact_roots)
        self.max_upload_bytes = max_upload_bytes
        self.serving_enabled = serving_enabled
        self.serve_registered_only = serve_registered_only
        self._serving: ModelServing | None = None
        # Built now so that a bad root stops the server at start, not at the first request.
        self._make_roots([])
        self._roots: ArtifactRoots | None = None
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

    @property
    def model_serving(self) -> ModelServing:
        """The served models of this server (made on first use; no process starts until a
        model is invoked)."""
        if self._serving is None:
            with self._lock:
                if self._serving is None:
                    from notebook_tracker.models.sources import for_context
                    from notebook_tracker.server.model_serving import ModelServing

                    self._serving = ModelServing(
                        self.tracking_uri,
                        sources=for_context(self) if self.serving_enabled else None,
                        enabled=self.serving_enabled,
                        registered_only=self.serve_registered_only,
                    )
        return self._serving

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on the pool; its exceptions propagate to the awaiting handler."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    # -- artifact locations: the one resolver ---------------------------------------------------
    def _make_roots(self, store_roots: list[str]) -> ArtifactRoots:
        from notebook_tracker.artifacts.roots import ArtifactRoots

        return ArtifactRoots(
            [*store_roots, *self.allowed_artifact_roots],
            proxy_root=self.artifact_root,
            hint=ROOTS_HINT[self.mode],
        )

    @property
    def roots(self) -> ArtifactRoots:
        """The artifact roots this server owns: its artifacts destination, the store's default
        artifact root (opened on first use) and the allowed roots."""
        if self._roots is None:
            store_root = self.store.artifact_root
            own = [store_root] if store_root and not store_root.startswith(PROXY_SCHEME) else []
            self._roots = self._make_roots(own)
        return self._roots

    def confine(self, uri: str) -> str:
        """The storage URI (local path or `s3://...`) of a run's, experiment's or model's
        location, refused with InvalidParameter (naming the allowed roots) unless it lies inside
        a root of this server. `mlflow-artifacts:` locations map to the artifacts destination;
        no other scheme is served, so nothing a client wrote makes the server call a host."""
        return self.roots.confine(uri)

    def accept_location(self, uri: str) -> str:
        """A client-supplied `artifact_location`, checked like `confine`, in the form to store
        (a proxy location loses any host: clients reach the proxy through their tracking URI)."""
        return self.roots.canonical(uri)

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        """The repository behind a run's, experiment's or model's artifact URI, confined."""
        from notebook_tracker.artifacts import get_artifact_repository

        return get_artifact_repository(self.confine(artifact_uri))

    def bind(self, handler: type) -> type:
        """The concrete handler class for this context's mode (see `server.base`)."""
        from notebook_tracker.server.base import bind_handler

        return bind_handler(handler, self.mode)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return f"TrackerContext({self.tracking_uri!r}, mode={self.mode!r})"

"""What the MLflow-compatible endpoints share: the store, logged models, and run rendering.

Endpoint functions are plain `fn(api: MlflowApi, req: Params) -> dict` (no tornado), called
on the server's thread pool by `handler.MlflowEndpointHandler`; the endpoints that write params
and tags are coroutines run on the IO loop, which hand their write to the worker's writer
(`server.ingest`) and never wait on the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from notebook_tracker import wire
from notebook_tracker.entities import Run
from notebook_tracker.server.ingest import group_writer
from notebook_tracker.wire.logged_models import dataset_input

if TYPE_CHECKING:
    from notebook_tracker.artifacts.base import ArtifactRepository
    from notebook_tracker.models.registry import RegistryClient
    from notebook_tracker.server.context import TrackerContext
    from notebook_tracker.store.base import TrackingStore
    from notebook_tracker.store.logged_model_base import LoggedModelStore


class MlflowApi:
    def __init__(self, context: TrackerContext) -> None:
        self.context = context
        self._models: LoggedModelStore | None = None
        self._registry: RegistryClient | None = None
        self._opened: TrackingStore | None = None

    @property
    def store(self) -> TrackingStore:
        return self.context.store

    async def opened_store(self) -> TrackingStore:
        """The store, for a coroutine: opened on the pool the first time (opening checks the
        schema, and readies its writer's files), so the IO loop never waits on it."""
        if self._opened is None:
            self._opened = await self.context.run(self._open)
        return self._opened

    def _open(self) -> TrackingStore:
        store = self.context.store
        writer = group_writer(store)
        if writer is not None:
            writer.prepare()
        return store

    @property
    def models(self) -> LoggedModelStore:
        if self._models is None:
            from notebook_tracker.store.factory import logged_model_store

            self._models = logged_model_store(self.context.tracking_uri)
        return self._models

    @property
    def registry(self) -> RegistryClient:
        """The model registry of this server's store (opened on first use)."""
        if self._registry is None:
            from notebook_tracker.models.registry import RegistryClient

            self._registry = RegistryClient(self.context.tracking_uri)
        return self._registry

    def has_models(self) -> bool:
        """Whether rendering runs reads their inputs and outputs: a server in front of another
        server would ask it once per run, so it leaves them out."""
        from notebook_tracker.store.factory import is_remote

        return not is_remote(self.context.tracking_uri)

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return self.context.artifact_repository(artifact_uri)

    # -- rendering ----------------------------------------------------------------------------
    def runs_json(self, runs: Sequence[Run]) -> list[dict[str, Any]]:
        """Runs as MLflow's `Run` messages, with their dataset and model inputs and outputs."""
        io = self.models.run_io([r.info.run_id for r in runs]) if runs and self.has_models() else {}
        return [self._run_json(r, io.get(r.info.run_id)) for r in runs]

    def run_json(self, run: Run) -> dict[str, Any]:
        return self.runs_json([run])[0]

    def _run_json(self, run: Run, io: dict[str, list[Any]] | None) -> dict[str, Any]:
        if not io:
            return wire.run(run)
        inputs = wire.compact(
            {
                "dataset_inputs": [dataset_input(d) for d in io["datasets"]],
                "model_inputs": [{"model_id": m} for m, _ in io["inputs"]],
            }
        )
        outputs = wire.compact(
            {"model_outputs": [{"model_id": m, "step": s} for m, s in io["outputs"]]}
        )
        return wire.run(run, inputs, outputs)

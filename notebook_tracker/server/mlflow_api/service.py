"""What the MLflow-compatible endpoints share: the store, logged models, and run rendering.

Endpoint functions are plain `fn(api: MlflowApi, req: Params) -> dict` (no tornado), called
on the server's thread pool by `handler.MlflowEndpointHandler`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from notebook_tracker import wire
from notebook_tracker.entities import Run

if TYPE_CHECKING:
    from notebook_tracker.artifacts.base import ArtifactRepository
    from notebook_tracker.entities.logged_models import LoggedModel
    from notebook_tracker.models.registry import RegistryClient
    from notebook_tracker.server.context import TrackerContext
    from notebook_tracker.store.base import TrackingStore
    from notebook_tracker.store.logged_model_base import LoggedModelStore


class MlflowApi:
    def __init__(self, context: TrackerContext) -> None:
        self.context = context
        self._models: LoggedModelStore | None = None
        self._registry: RegistryClient | None = None

    @property
    def store(self) -> TrackingStore:
        return self.context.store

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
                "dataset_inputs": [dataset_input_json(d) for d in io["datasets"]],
                "model_inputs": [{"model_id": m} for m, _ in io["inputs"]],
            }
        )
        outputs = wire.compact(
            {"model_outputs": [{"model_id": m, "step": s} for m, s in io["outputs"]]}
        )
        return wire.run(run, inputs, outputs)


def dataset_input_json(d: Any) -> dict[str, Any]:
    return wire.compact(
        {
            "tags": wire.key_values(d.tags),
            "dataset": wire.compact(
                {
                    "name": d.name,
                    "digest": d.digest,
                    "source_type": d.source_type,
                    "source": d.source,
                    "schema": d.schema,
                    "profile": d.profile,
                }
            ),
        }
    )


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    info = wire.compact(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp_ms,
            "last_updated_timestamp_ms": model.last_updated_timestamp_ms,
            "artifact_uri": model.artifact_uri,
            "status": model.status,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status_message": model.status_message,
            "tags": wire.key_values(model.tags),
        }
    )
    metrics = [
        wire.compact(
            {
                "key": m.key,
                "value": wire.double(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
                "run_id": m.run_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
                "model_id": model.model_id,
            }
        )
        for m in model.metrics
    ]
    data = wire.compact({"params": wire.key_values(model.params), "metrics": metrics})
    return {"info": info, "data": data}

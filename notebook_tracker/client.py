"""`TrackingClient`: every tracking operation by explicit id (the analogue of `MlflowClient`)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notebook_tracker import config, run_jobs, validation
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import (
    Experiment,
    FileInfo,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store import get_store
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_DEFAULT, TrackingStore

if TYPE_CHECKING:
    from notebook_tracker.run_columns import RunColumns


def current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "unknown"


class TrackingClient:
    def __init__(self, tracking_uri: str | None = None, store: TrackingStore | None = None) -> None:
        self.tracking_uri = (
            config.normalize_uri(tracking_uri) if tracking_uri else config.get_tracking_uri()
        )
        self.store: TrackingStore = store if store is not None else get_store(self.tracking_uri)

    # -- experiments -------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        return self.store.create_experiment(
            name, artifact_location, {k: str(v) for k, v in (tags or {}).items()}
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self.store.search_experiments(
            view_type, max_results, filter_string, order_by, page_token
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(str(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.store.rename_experiment(str(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        self.store.set_experiment_tag(str(experiment_id), key, validation.tag_value(value, key))

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        clean_tags = {}
        for k, v in (tags or {}).items():
            validation.validate_key(k, "tag")
            clean_tags[k] = validation.tag_value(v, k)
        if run_name is not None:
            run_name = validation.run_name(run_name)
        return self.store.create_run(
            str(experiment_id),
            user_id=clean_tags.get("mlflow.user") or current_user(),
            start_time=start_time or now_ms(),
            tags=clean_tags,
            run_name=run_name,
            parent_run_id=parent_run_id,
        )

    def get_run(self, run_id: str) -> Run:
        run_jobs.wait(run_id)  # the run's background work (an autologged model) first
        return self.store.get_run(run_id)

    def update_run(
        self, run_id: str, status: str | None = None, name: str | None = None
    ) -> RunInfo:
        end_time = now_ms() if status and RunStatus.is_terminated(status) else None
        return self.store.update_run_info(run_id, status=status, end_time=end_time, run_name=name)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        if status not in RunStatus.TERMINATED:
            raise InvalidParameter(
                f"Invalid end status {status!r}: use one of {', '.join(RunStatus.TERMINATED)}."
            )
        self.store.update_run_info(run_id, status=status, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        run_jobs.wait_all()
        return self.store.search_runs(
            [str(e) for e in experiment_ids],
            filter_string,
            run_view_type,
            max_results,
            order_by,
            page_token,
        )

    def search_run_columns(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[RunColumns, str | None]:
        """One page of `search_runs` as columns, for `frames.columns_to_frame`."""
        run_jobs.wait_all()  # as search_runs: the runs' background work is in what is read
        return self.store.search_run_columns(
            [str(e) for e in experiment_ids],
            filter_string,
            run_view_type,
            max_results,
            order_by,
            page_token,
        )

    # -- logging -----------------------------------------------------------------------------
    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        validation.validate_key(key, "param")
        self.store.log_batch(run_id, params=[Param(key, validation.param_value(value, key))])
        return value

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        validation.validate_key(key, "metric")
        metric = Metric(
            key,
            validation.metric_value(value, key),
            timestamp if timestamp is not None else now_ms(),
            validation.step_value(step),
        )
        self.store.log_batch(run_id, metrics=[metric])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        validation.validate_key(key, "tag")
        self.store.log_batch(run_id, tags=[RunTag(key, validation.tag_value(value, key))])

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        for m in metrics:
            validation.validate_key(m.key, "metric")
        for p in params:
            validation.validate_key(p.key, "param")
            validation.param_value(p.value, p.key)
        for t in tags:
            validation.validate_key(t.key, "tag")
            validation.tag_value(t.value, t.key)
        self.store.log_batch(run_id, list(metrics), list(params), list(tags))

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        run_jobs.wait(run_id)
        return self.store.get_metric_history(run_id, key)

    # -- artifacts ---------------------------------------------------------------------------
    def _artifact_repo(self, run_id: str) -> Any:
        from notebook_tracker.artifacts import get_artifact_repository

        return get_artifact_repository(self.get_run(run_id).info.artifact_uri)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        path = Path(local_path)
        if not path.exists():
            raise InvalidParameter(f"Cannot log artifact {str(path)!r}: no such file or directory.")
        repo = self._artifact_repo(run_id)
        if path.is_dir():
            repo.log_artifacts(str(path), posixpath.join(artifact_path or "", path.name))
        else:
            repo.log_artifact(str(path), artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        if not Path(local_dir).is_dir():
            raise InvalidParameter(
                f"Cannot log artifacts from {str(local_dir)!r}: not a directory."
            )
        self._artifact_repo(run_id).log_artifacts(str(local_dir), artifact_path)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        self._artifact_repo(run_id).write_bytes(artifact_file, data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            import json

            text = json.dumps(dictionary, indent=2, default=str)
        self.log_text(run_id, text, artifact_file)

    def log_figure(
        self,
        run_id: str,
        figure: Any,
        artifact_file: str,
        save_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import io

        if not hasattr(figure, "savefig"):
            raise InvalidParameter(
                f"log_figure needs a matplotlib Figure, got {type(figure).__name__}."
            )
        buf = io.BytesIO()
        kwargs = {"bbox_inches": "tight", **(save_kwargs or {})}
        fmt = Path(artifact_file).suffix.lstrip(".") or "png"
        figure.savefig(buf, format=fmt, **kwargs)
        self.log_bytes(run_id, buf.getvalue(), artifact_file)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        import json

        import pandas as pd

        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        if not artifact_file.endswith(".json"):
            raise InvalidParameter(
                f"log_table writes JSON: name the file '*.json', not {artifact_file!r}."
            )
        payload = json.loads(frame.to_json(orient="split", index=False, default_handler=str))
        self.log_dict(
            run_id, {"columns": payload["columns"], "data": payload["data"]}, artifact_file
        )
        run = self.get_run(run_id)
        logged = json.loads(run.data.tags.get("mlflow.loggedArtifacts", "[]"))
        if not any(a.get("path") == artifact_file for a in logged):
            logged.append({"path": artifact_file, "type": "table"})
            self.set_tag(run_id, "mlflow.loggedArtifacts", json.dumps(logged))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        run_jobs.wait(run_id)
        return self._artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        run_jobs.wait(run_id)
        if dst_path is None:
            import tempfile

            dst_path = tempfile.mkdtemp(prefix="nt-artifacts-")
        dst = dst_path
        Path(dst).mkdir(parents=True, exist_ok=True)
        return self._artifact_repo(run_id).download_artifacts(path, dst)

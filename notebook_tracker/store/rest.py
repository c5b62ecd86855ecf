"""A tracking store on a remote server, over its MLflow-compatible REST API.

`http(s)://host:port[/prefix]` tracking URIs open this store: a standalone notebook-tracker
server, one inside a Jupyter server (`http://host:8888/notebook-tracker/`), or an MLflow
server. Requests go to `{uri}/api/2.0/mlflow/...`; metrics travel in `runs/log-batch`
requests of at most 1000 points; the token in NOTEBOOK_TRACKER_TOKEN (or MLFLOW_TRACKING_TOKEN)
is sent as `Authorization: Bearer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from notebook_tracker import wire
from notebook_tracker.entities import (
    Experiment,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from notebook_tracker.entities.logged_models import ModelMetric
from notebook_tracker.errors import NotFound
from notebook_tracker.store import rules
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_DEFAULT, TrackingStore
from notebook_tracker.store.rest_outbox import RestOutbox
from notebook_tracker.store.rest_transport import Transport
from notebook_tracker.validation import experiment_name

API = wire.API_PREFIX
MAX_METRICS_PER_BATCH = wire.MAX_METRICS_PER_BATCH
MAX_PARAMS_PER_BATCH = MAX_TAGS_PER_BATCH = wire.MAX_PARAMS_TAGS_PER_BATCH
HISTORY_PAGE = 25000


def _model_metric_out(m: ModelMetric) -> dict[str, Any]:
    out: dict[str, Any] = {"key": m.key, "value": wire.double(float(m.value))}
    out.update(timestamp=int(m.timestamp), step=int(m.step), model_id=m.model_id)
    if m.dataset_name:
        out.update(dataset_name=m.dataset_name, dataset_digest=m.dataset_digest)
    return out


class RestStore(TrackingStore):
    def __init__(self, uri: str, token: str | None = None, **transport_options: Any) -> None:
        self.uri = uri.rstrip("/")
        self.http = Transport(self.uri, token=token, **transport_options)

    def __repr__(self) -> str:
        return f"RestStore({self.uri!r})"

    def metric_sink(self) -> RestOutbox:
        """Where the metric buffer sends points: kept through outages, replayed in order."""
        return RestOutbox(self.uri, self.http.token)

    def _call(self, method: str, endpoint: str, body: Any = None, **params: Any) -> Any:
        return self.http.call(method, API + endpoint, params=params or None, body=body)

    # -- experiments -------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        body: dict[str, Any] = {
            "name": experiment_name(name),
            "tags": wire.key_values(rules.tag_map(tags)),
        }
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self._call("POST", "experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        data = self._call("GET", "experiments/get", experiment_id=experiment_id)
        return wire.experiment_from_json(data["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            data = self._call("GET", "experiments/get-by-name", experiment_name=name)
        except NotFound:
            return None
        return wire.experiment_from_json(data["experiment"])

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        body: dict[str, Any] = {"max_results": max_results, "view_type": view_type}
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = list(order_by)
        if page_token:
            body["page_token"] = page_token
        data = self._call("POST", "experiments/search", body)
        exps = [wire.experiment_from_json(e) for e in data.get("experiments") or []]
        return PagedList(exps, data.get("next_page_token") or None)

    def delete_experiment(self, experiment_id: str) -> None:
        self._call("POST", "experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self._call("POST", "experiments/restore", {"experiment_id": experiment_id})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        experiment_name(new_name)
        self._call(
            "POST", "experiments/update", {"experiment_id": experiment_id, "new_name": new_name}
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        tag = rules.tag(key, value)
        body = {"experiment_id": experiment_id, "key": tag.key, "value": tag.value}
        self._call("POST", "experiments/set-experiment-tag", body)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        body = {"experiment_id": experiment_id, "key": key}
        self._call("POST", "experiments/delete-experiment-tag", body)

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        record_owner: bool = True,
    ) -> Run:
        all_tags = rules.tag_map(tags)
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "start_time": start_time,
            "tags": wire.key_values(all_tags),
        }
        if run_name:
            body["run_name"] = run_name
        return wire.run_from_json(self._call("POST", "runs/create", body)["run"])

    def get_run(self, run_id: str) -> Run:
        return wire.run_from_json(self._call("GET", "runs/get", run_id=run_id)["run"])

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        record_owner: bool = True,
    ) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status is not None:
            body["status"] = status
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        data = self._call("POST", "runs/update", body)
        if "run_info" in data:
            return wire.run_info_from_json(data["run_info"])
        return self.get_run(run_id).info

    def delete_run(self, run_id: str) -> None:
        self._call("POST", "runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._call("POST", "runs/restore", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        model_metrics: Sequence[ModelMetric] = (),
    ) -> None:
        """Sent in requests within the server's limits (1000 metrics, 100 params, 100 tags);
        a batch within them (the server's own log-batch) is one request, so one transaction."""
        params, tags = rules.batch(
            [m.key for m in metrics] + [m.key for m in model_metrics], params, tags
        )
        points = [wire.metric_point(m) for m in metrics] + [
            _model_metric_out(m) for m in model_metrics
        ]
        if (
            len(points) <= MAX_METRICS_PER_BATCH
            and len(params) <= MAX_PARAMS_PER_BATCH
            and len(tags) <= MAX_TAGS_PER_BATCH
            and len(points) + len(params) + len(tags) <= MAX_METRICS_PER_BATCH
        ):
            body = {"run_id": run_id, "metrics": points, "params": wire.key_value_list(params)}
            self._write_points({**body, "tags": wire.key_value_list(tags)}, bool(points))
            return
        # Params and tags first, whole, so metrics never land on a run missing its params.
        while params or tags:
            body = {
                "run_id": run_id,
                "params": [{"key": p.key, "value": p.value} for p in params[:MAX_PARAMS_PER_BATCH]],
                "tags": [{"key": t.key, "value": t.value} for t in tags[:MAX_TAGS_PER_BATCH]],
            }
            params, tags = params[MAX_PARAMS_PER_BATCH:], tags[MAX_TAGS_PER_BATCH:]
            self._call("POST", "runs/log-batch", body)
        for start in range(0, len(points), MAX_METRICS_PER_BATCH):
            body = {"run_id": run_id, "metrics": points[start : start + MAX_METRICS_PER_BATCH]}
            self._write_points(body, True)

    def _write_points(self, body: dict[str, Any], has_points: bool) -> None:
        # Points are not idempotent (a second copy is a second point): a request the server
        # may have applied without answering is reported, not re-sent. Params and tags are.
        self.http.call("POST", API + "runs/log-batch", body=body, resend_unanswered=not has_points)

    def log_metric_rows(self, rows: Iterable[tuple[str, str, float, int, int]]) -> None:
        by_run: dict[str, list[Metric]] = {}
        for run_id, key, value, timestamp, step in rows:
            by_run.setdefault(run_id, []).append(Metric(key, value, timestamp, step))
        for run_id, metrics in by_run.items():
            self.log_batch(run_id, metrics=metrics)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def get_metric_history(
        self, run_id: str, key: str, max_results: int | None = None, page_token: str | None = None
    ) -> MetricHistory:
        import numpy as np

        steps: list[int] = []
        timestamps: list[int] = []
        values: list[float] = []
        token = page_token
        while True:
            want = HISTORY_PAGE if max_results is None else min(HISTORY_PAGE, max_results)
            data = self._call(
                "GET",
                "metrics/get-history",
                run_id=run_id,
                metric_key=key,
                max_results=want,
                page_token=token,
            )
            for m in data.get("metrics") or []:
                step, timestamp, value = wire.point_from_json(m)
                steps.append(step)
                timestamps.append(timestamp)
                values.append(value)
            token = data.get("next_page_token") or None
            if not token or (max_results is not None and len(values) >= max_results):
                break
        history = MetricHistory(
            key,
            np.asarray(steps, dtype=np.int64),
            np.asarray(timestamps, dtype=np.int64),
            np.asarray(values, dtype=np.float64),
        )
        history.token = token if max_results is not None or page_token else None
        return history

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "run_view_type": run_view_type,
            "max_results": max_results,
        }
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = list(order_by)
        if page_token:
            body["page_token"] = page_token
        data = self._call("POST", "runs/search", body)
        runs = [wire.run_from_json(r) for r in data.get("runs") or []]
        return PagedList(runs, data.get("next_page_token") or None)

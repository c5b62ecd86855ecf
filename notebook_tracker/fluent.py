"""The fluent API: an active-run stack over `TrackingClient`, with MLflow's names and habits."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Literal

from notebook_tracker import config, env, metric_buffer, run_jobs, validation
from notebook_tracker.client import TrackingClient, current_user
from notebook_tracker.entities import (
    Experiment,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from notebook_tracker.errors import AlreadyExists, InvalidParameter, TrackerError
from notebook_tracker.store.factory import first_write_store

_active_runs: list[ActiveRun] = []
_last_active_run_id: str | None = None
_active_experiment_id: str | None = None
_clients: dict[str, TrackingClient] = {}
_time = time.time


class ActiveRun(Run):
    """The run `start_run` returns; as a context manager it ends the run, FAILED on error."""

    def __init__(self, run: Run, client: TrackingClient) -> None:
        super().__init__(run.info, run.data)
        self.client = client
        self.buffer = metric_buffer.buffer_for(client.store, open_run_ids)
        # Read once per run, not per point: the hot path must not touch os.environ.
        self.row_run_id = run.info.run_id
        self.append_row = self.buffer.append
        self.sync = _sync_mode(None)
        self.system_metrics: Any = None  # its SystemMetricsMonitor, when it logs them

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if any(r.info.run_id == self.info.run_id for r in _active_runs):
            end_run(status)
        return False


def open_run_ids() -> list[str]:
    return [r.info.run_id for r in _active_runs]


def current_client() -> TrackingClient:
    uri = config.get_tracking_uri()
    client = _clients.get(uri)
    if client is None:
        # A fresh process's first run is written before SQLAlchemy is even imported.
        client = _clients[uri] = TrackingClient(uri, store=first_write_store(uri))
    return client


def _sync_mode(synchronous: bool | None) -> bool:
    if synchronous is not None:
        return synchronous
    return env.sync_logging()


# -- tracking URI and experiments -----------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Use this store from now on: a database URI, an http(s) server, or a folder path."""
    run_jobs.wait_all()  # background work goes to the store its run is in
    config.set_tracking_uri(uri)


def get_tracking_uri() -> str:
    return config.get_tracking_uri()


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    return current_client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return current_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return current_client().get_experiment_by_name(name)


def search_experiments(
    view_type: str = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    client = current_client()
    found: list[Experiment] = []
    token: str | None = None
    while True:
        page = client.search_experiments(view_type, 1000, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token or (max_results is not None and len(found) >= max_results):
            return found[:max_results] if max_results is not None else found


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active for the runs that follow; create it by name if it is missing."""
    global _active_experiment_id
    client = current_client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameter(
            "set_experiment takes exactly one of experiment_name or experiment_id."
        )
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    else:
        exp = get_or_create_experiment(client, experiment_name)  # type: ignore[arg-type]
    if exp.lifecycle_stage != "active":
        raise InvalidParameter(
            f"Cannot set the deleted experiment '{exp.name}' active: restore it "
            "(notebook-tracker experiments restore) or pick another name."
        )
    _active_experiment_id = exp.experiment_id
    return exp


def get_or_create_experiment(client: TrackingClient, name: str) -> Experiment:
    """The experiment named `name`, created if missing. Processes doing this at once (a
    parallel sweep) all get the one experiment: the loser of the creation race reads it."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp
    try:
        return client.get_experiment(client.create_experiment(name))
    except AlreadyExists:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp


def resolve_experiment_id(experiment_id: str | None) -> str:
    if experiment_id is not None:
        return str(experiment_id)
    if _active_experiment_id is not None:
        return _active_experiment_id
    from_env = env.experiment_id()
    if from_env:
        return from_env
    name = env.experiment_name()
    if name:
        return set_experiment(name).experiment_id
    return "0"


# -- runs ------------------------------------------------------------------------------------
def _context_tags() -> dict[str, str]:
    source = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    return {
        "mlflow.user": current_user(),
        "mlflow.source.name": source,
        "mlflow.source.type": "LOCAL",
    }


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume one by `run_id`) and make it active; use it as a context manager.

    `log_system_metrics`: sample CPU, memory, disk, network and GPU into `system/...` metrics
    while the run is active (None: as `enable_system_metrics_logging()` or the environment say).
    """
    global _last_active_run_id
    from notebook_tracker import system_metrics

    with_system_metrics = system_metrics.should_log(log_system_metrics)
    if with_system_metrics:
        system_metrics.check_settings()
    client = current_client()
    if _active_runs and not nested:
        raise InvalidParameter(
            f"Run {_active_runs[-1].info.run_id} is already active. End it with end_run(), or "
            "start a nested run with start_run(nested=True)."
        )
    resumable = run_id is None and not _active_runs and not nested and parent_run_id is None
    if resumable and env.run_id():
        run_id = env.run_id()  # a project runner handed us its run
    if run_id is not None:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidParameter(f"Run {run_id} is deleted: restore it before resuming it.")
        client.store.update_run_info(run_id, status=RunStatus.RUNNING, run_name=run_name)
        extra = dict(tags or {})
        if description:
            extra["mlflow.note.content"] = description
        if extra:
            client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in extra.items()])
        run = client.get_run(run_id)
    else:
        parent = parent_run_id or (
            _active_runs[-1].info.run_id if nested and _active_runs else None
        )
        all_tags = {**_context_tags(), **(tags or {})}
        if description:
            all_tags["mlflow.note.content"] = description
        exp_id = experiment_id
        if exp_id is None and parent:
            exp_id = client.get_run(parent).info.experiment_id
        run = client.create_run(
            resolve_experiment_id(exp_id), tags=all_tags, run_name=run_name, parent_run_id=parent
        )
    active = ActiveRun(run, client)
    if with_system_metrics:
        first = system_metrics.next_step(client.store, run.info.run_id) if run_id else 0
        active.system_metrics = system_metrics.SystemMetricsMonitor(
            run.info.run_id, client.store, first_step=first, buffer=active.buffer
        ).start()
    _active_runs.append(active)
    _last_active_run_id = active.info.run_id
    return active


def active_run() -> ActiveRun | None:
    return _active_runs[-1] if _active_runs else None


def active_runs() -> list[ActiveRun]:
    """The active runs of this process, outermost first (nested runs after their parent)."""
    return list(_active_runs)


def last_active_run() -> Run | None:
    if _active_runs:
        return get_run(_active_runs[-1].info.run_id)
    return get_run(_last_active_run_id) if _last_active_run_id else None


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run: its buffered metrics are written first, then its status."""
    if not _active_runs:
        return
    run = _active_runs.pop()
    if status not in RunStatus.TERMINATED:
        _active_runs.append(run)
        raise InvalidParameter(
            f"Invalid end status {status!r}: use one of {', '.join(RunStatus.TERMINATED)}."
        )
    if run.system_metrics is not None:  # its last points go out with the run's end
        run.system_metrics.stop(flush=False)
    run_id, end_time = run.info.run_id, int(_time() * 1000)
    # Background work of the run (autologged models) lands before its end.
    if not run_jobs.end_after_jobs(run_id, lambda: run.buffer.end_run(run_id, status, end_time)):
        run.buffer.end_run(run_id, status, end_time)


def run_for_logging() -> ActiveRun:
    return _active_runs[-1] if _active_runs else start_run()


# -- logging ---------------------------------------------------------------------------------
_valid_keys = validation.VALID_KEYS


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> None:
    """Log one point. Costs about an append: the flusher thread writes it within a moment."""
    run = _active_runs[-1] if run_id is None and _active_runs else _run_for_metric(run_id)
    if key not in _valid_keys:
        validation.validate_key(key, "metric")
    if type(value) is not float:
        value = validation.metric_value(value, key)
    if step is None:
        step = 0
    elif type(step) is not int:
        step = validation.step_value(step)
    buf = run.buffer
    if len(buf.rows) >= buf.limit:  # bounded in memory: wait for room, or hear why there is none
        buf.make_room()
    run.append_row(
        (run.row_run_id, key, value, _time() * 1000 if timestamp is None else timestamp, step)
    )
    if synchronous or (run.sync and synchronous is None):
        run.buffer.flush()


def _run_for_metric(run_id: str | None) -> Any:
    if run_id is None:
        return run_for_logging()
    for run in _active_runs:
        if run.info.run_id == run_id:
            return run
    return _RunTarget(run_id, current_client())


class _RunTarget:
    """Where `log_metric(run_id=...)` for a run that is not active sends its points."""

    def __init__(self, run_id: str, client: TrackingClient) -> None:
        self.row_run_id = run_id
        self.buffer = metric_buffer.buffer_for(client.store, open_run_ids)
        self.append_row = self.buffer.append
        self.sync = _sync_mode(None)


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
) -> None:
    ts = timestamp if timestamp is not None else int(_time() * 1000)
    for key, value in metrics.items():
        log_metric(key, value, step=step, timestamp=ts, run_id=run_id, synchronous=False)
    if _sync_mode(synchronous):
        flush()


def _reset_for_tests() -> None:
    """Forget the active runs, experiment and clients of this process (tests only)."""
    global _active_experiment_id, _last_active_run_id
    try:
        metric_buffer.flush_all(raise_errors=False)
    except TrackerError:
        pass
    _active_runs.clear()
    _clients.clear()
    _active_experiment_id = None
    _last_active_run_id = None
    config.set_tracking_uri(None)
    from notebook_tracker.store import forget_stores

    forget_stores()


# Split by job (those modules reach this one's state through `fluent.`); every fluent
# function stays reachable as `fluent.<name>`.
from notebook_tracker import fluent_read as _read  # noqa: E402
from notebook_tracker import fluent_records as _records  # noqa: E402

flush, get_run, get_metric_history = _read.flush, _read.get_run, _read.get_metric_history
delete_run, restore_run, search_runs = _read.delete_run, _read.restore_run, _read.search_runs
log_param, log_params, set_tag = _records.log_param, _records.log_params, _records.set_tag
set_tags, delete_tag, log_text = _records.set_tags, _records.delete_tag, _records.log_text
log_artifact, log_artifacts = _records.log_artifact, _records.log_artifacts
log_dict, log_figure, log_table = _records.log_dict, _records.log_figure, _records.log_table
get_artifact_uri = _records.get_artifact_uri

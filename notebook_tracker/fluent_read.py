"""The fluent API's reads and by-id operations: what was logged comes back (buffered points
are flushed first), runs are searched, deleted and restored. Re-exported by `fluent`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notebook_tracker import fluent, metric_buffer
from notebook_tracker.entities import MetricHistory, Run, ViewType
from notebook_tracker.errors import InvalidParameter


def flush() -> None:
    """Write every buffered metric point now (end_run and interpreter exit do it for you)."""
    metric_buffer.flush_all()


def get_run(run_id: str) -> Run:
    metric_buffer.flush_all(raise_errors=False)
    return fluent.current_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> MetricHistory:
    metric_buffer.flush_all(raise_errors=False)
    return fluent.current_client().get_metric_history(run_id, key)


def delete_run(run_id: str) -> None:
    fluent.current_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    fluent.current_client().restore_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: str = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching MLflow's filter grammar, as a DataFrame (a list with output_format='list')."""
    metric_buffer.flush_all(raise_errors=False)
    client = fluent.current_client()
    if experiment_names:
        found = [client.get_experiment_by_name(n) for n in experiment_names]
        ids = [e.experiment_id for e in found if e is not None]
    elif experiment_ids:
        ids = (
            [str(experiment_ids)]
            if isinstance(experiment_ids, (str, int))
            else [str(e) for e in experiment_ids]
        )
    elif search_all_experiments:
        ids = [e.experiment_id for e in fluent.search_experiments(view_type=ViewType.ALL)]
    else:
        ids = [fluent.resolve_experiment_id(None)]
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page = client.search_runs(
            ids, filter_string, run_view_type, min(50_000, max_results - len(runs)), order_by, token
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise InvalidParameter(f"Unknown output_format {output_format!r}: use 'pandas' or 'list'.")
    from notebook_tracker.frames import runs_to_frame

    return runs_to_frame(runs)

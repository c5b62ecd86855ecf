"""The fluent API's reads and by-id operations: what was logged comes back (buffered points
are flushed first), runs are searched, deleted and restored. Re-exported by `fluent`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from notebook_tracker import metric_buffer
from notebook_tracker.entities import MetricHistory, Run, ViewType
from notebook_tracker.errors import InvalidParameter
from notebook_tracker.store.base import SEARCH_MAX_RESULTS_THRESHOLD

if TYPE_CHECKING:
    from notebook_tracker.run_columns import RunColumns


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
    if output_format not in ("pandas", "list"):
        raise InvalidParameter(f"Unknown output_format {output_format!r}: use 'pandas' or 'list'.")
    if output_format == "list":
        runs: list[Run] = []
        token = None
        while len(runs) < max_results:
            page = client.search_runs(
                ids,
                filter_string,
                run_view_type,
                _page_size(max_results, len(runs)),
                order_by,
                token,
            )
            runs.extend(page)
            token = page.token
            if not token:
                break
        return runs
    from notebook_tracker.frames import columns_to_frame
    from notebook_tracker.run_columns import RunColumns

    pages: list[RunColumns] = []
    have = 0
    token = None
    while have < max_results:
        columns, token = client.search_run_columns(
            ids, filter_string, run_view_type, _page_size(max_results, have), order_by, token
        )
        pages.append(columns)
        have += len(columns)
        if not token:
            break
    return columns_to_frame(RunColumns.concat(pages))


def _page_size(wanted: int, have: int) -> int:
    return min(SEARCH_MAX_RESULTS_THRESHOLD, wanted - have)


# Last: `fluent` imports this module and takes its functions as it loads, so a program that
# imports this module first must have them defined before `fluent` loads.
from notebook_tracker import fluent  # noqa: E402

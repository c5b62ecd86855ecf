"""The runs `%runs` and `%compare_runs` select, newest first."""

from __future__ import annotations

from typing import Any

from notebook_tracker import fluent
from notebook_tracker.cells.arguments import RunsQuery
from notebook_tracker.entities import Run, ViewType
from notebook_tracker.errors import NotFound

NEWEST_FIRST = ["attributes.start_time DESC"]

# Columns `%runs` shows first; the rest (all metrics, params and tags) follow.
LEAD_COLUMNS = [
    "run_id",
    "tags.mlflow.runName",
    "experiment_id",
    "status",
    "start_time",
    "end_time",
]


def select_runs(query: RunsQuery) -> list[Run]:
    if query.run_ids:
        return [fluent.get_run(run_id) for run_id in query.run_ids]
    if query.experiment:
        found = fluent.get_experiment_by_name(query.experiment)
        if found is None:
            raise NotFound(
                f"No experiment named {query.experiment!r}: list them with "
                "nt.search_experiments() or `notebook-tracker experiments list`."
            )
        scope: dict[str, Any] = {"experiment_ids": [found.experiment_id]}
    else:
        scope = {"search_all_experiments": True}
    limit = query.last if query.last is not None else query.max_results
    return fluent.search_runs(
        filter_string=query.filter_string,
        order_by=NEWEST_FIRST,
        max_results=limit,
        output_format="list",
        run_view_type=ViewType.ACTIVE_ONLY,
        **scope,
    )


def runs_frame(runs: list[Run]) -> Any:
    """The runs as a DataFrame, newest first, identifying columns first."""
    from notebook_tracker.frames import runs_to_frame

    frame = runs_to_frame(runs)
    lead = [c for c in LEAD_COLUMNS if c in frame.columns]
    rest = [c for c in frame.columns if c not in lead]
    return frame[lead + rest]

"""What the store holds of a sweep: its run, its trials' runs, and its best trial so far.

Resuming reads only these records, so a sweep continues after a kernel restart (or from
another machine) with nothing kept in memory.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.client import TrackingClient
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.sweeps.space import SpaceError
from notebook_tracker.sweeps.trial import (
    COMPLETE,
    PRUNED,
    TAG_NAME,
    TAG_SPACE,
    TAG_STATE,
    TAG_SWEEP,
    TAG_TRIAL,
)

TAG_METRIC = "notebook_tracker.sweep.metric"
TAG_MODE = "notebook_tracker.sweep.mode"
TAG_METHOD = "notebook_tracker.sweep.method"
BEST_PREFIX = "sweep.best"  # tags sweep.best.trial, sweep.best.run_id, sweep.best.<param>
_NAME = re.compile(r"^[\w.\-]{1,200}$")


@dataclass
class PastTrial:
    number: int
    run_id: str
    status: str
    state: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    intermediate: dict[int, float] = field(default_factory=dict)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SpaceError(
            f"Sweep name {name!r}: use letters, digits, '_', '-' and '.' (at most 200), "
            "e.g. lr-search."
        )
    return name


def find_sweep(client: TrackingClient, experiment_id: str, name: str) -> Any:
    """The newest sweep run called `name` in the experiment, or None."""
    runs = client.search_runs(
        [experiment_id],
        f"tags.`{TAG_NAME}` = '{name}'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    return runs[0] if runs else None


def create_sweep(
    client: TrackingClient,
    experiment_id: str,
    name: str,
    space_text: str,
    method: str,
    mode: str,
    metric: str | None,
    parent_run_id: str | None,
) -> Any:
    tags = {TAG_SWEEP: "true", TAG_NAME: name, TAG_SPACE: space_text}
    tags.update({TAG_METHOD: method, TAG_MODE: mode, "mlflow.source.type": "LOCAL"})
    if metric:
        tags[TAG_METRIC] = metric
    run = client.create_run(experiment_id, tags=tags, run_name=name, parent_run_id=parent_run_id)
    client.log_batch(
        run.info.run_id, params=[Param(f"space.{k}", v) for k, v in _space_params(space_text)]
    )
    return run


def _space_params(space_text: str) -> list[tuple[str, str]]:
    out = []
    for item in space_text.split(" "):
        name, _, kind = item.partition("=")
        out.append((name, kind))
    return out


def past_trials(client: TrackingClient, sweep_run_id: str, experiment_id: str) -> list[PastTrial]:
    found: list[PastTrial] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            f"tags.mlflow.parentRunId = '{sweep_run_id}'",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            number = run.data.tags.get(TAG_TRIAL)
            if number is None or not number.isdigit():
                continue
            found.append(
                PastTrial(
                    int(number),
                    run.info.run_id,
                    run.info.status,
                    run.data.tags.get(TAG_STATE),
                    dict(run.data.params),
                    dict(run.data.metrics),
                )
            )
        token = page.token
        if not token:
            break
    return sorted(found, key=lambda t: t.number)


def counts_as_done(trial: PastTrial) -> bool:
    """Complete and pruned trials are kept on resume; failed and killed ones are tried again."""
    return trial.state in (COMPLETE, PRUNED)


def create_trial_run(
    client: TrackingClient,
    experiment_id: str,
    sweep_run_id: str,
    number: int,
    params: dict[str, Any],
    run_name: str,
) -> str:
    run = client.create_run(
        experiment_id,
        tags={TAG_TRIAL: str(number), TAG_STATE: "RUNNING", "mlflow.source.type": "LOCAL"},
        run_name=run_name,
        parent_run_id=sweep_run_id,
    )
    client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
    return str(run.info.run_id)


def end_trial_run(client: TrackingClient, run_id: str, status: str, state: str, why: str) -> None:
    tags = [RunTag(TAG_STATE, state)]
    if why:
        tags.append(RunTag("notebook_tracker.error", why[:500]))
    client.log_batch(run_id, tags=tags)
    client.set_terminated(run_id, status)


def record_best(
    client: TrackingClient,
    sweep_run_id: str,
    metric: str,
    value: float,
    number: int,
    run_id: str,
    params: dict[str, Any],
    done: int,
) -> None:
    tags = [RunTag(f"{BEST_PREFIX}.trial", str(number)), RunTag(f"{BEST_PREFIX}.run_id", run_id)]
    tags += [RunTag(f"{BEST_PREFIX}.{k}", str(v)) for k, v in params.items()]
    now = int(time.time() * 1000)
    client.log_batch(
        sweep_run_id, metrics=[Metric(f"best.{metric}", float(value), now, done)], tags=tags
    )

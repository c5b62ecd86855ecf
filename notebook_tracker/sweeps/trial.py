"""What a trial is when it travels to a worker, and what comes back.

A `TrialSpec` is cloudpickled by the driver into bytes (so functions and classes defined in a
notebook travel by value) and unpickled by `worker.run_trial` in whichever process runs it.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass, field
from typing import Any

COMPLETE, PRUNED, FAIL = "COMPLETE", "PRUNED", "FAIL"

# Tags every trial run and sweep run carries; docs/sweeps.md lists them for users.
TAG_SWEEP = "notebook_tracker.sweep"  # on the sweep run: "true"
TAG_NAME = "notebook_tracker.sweep.name"
TAG_SPACE = "notebook_tracker.sweep.space"
TAG_TRIAL = "notebook_tracker.sweep.trial"  # on a trial run: its number
TAG_STATE = "notebook_tracker.sweep.state"  # COMPLETE, PRUNED, FAIL or KILLED
TAG_PRUNED_AT = "notebook_tracker.sweep.pruned_at_step"
TAG_ERROR = "notebook_tracker.error"


class TrialPruned(Exception):  # noqa: N818 - Optuna's name for the same thing
    """Raised inside a trial by `nt.log_metric` when the pruner stops it early."""

    def __init__(self, step: int) -> None:
        super().__init__(f"pruned at step {step}")
        self.step = step


@dataclass
class TrialSpec:
    number: int
    run_id: str | None  # made by the driver; None when the payload makes its own (projects)
    parent_run_id: str
    experiment_id: str
    tracking_uri: str
    params: dict[str, Any]
    metric: str | None
    direction: str  # "minimize" or "maximize"
    payload: Any  # CellPayload | FunctionPayload | ProjectPayload
    pruner: Any = None  # an Optuna pruner, or None for no pruning
    # (value, {step: value}) of the trials complete when this one was asked: the pruner's view.
    history: list[tuple[float, dict[int, float]]] = field(default_factory=list)
    run_name: str | None = None
    system_metrics: bool = True
    asked: float = 0.0  # the driver began asking Optuna for this trial
    submitted: float = 0.0


@dataclass
class TrialResult:
    number: int
    run_id: str | None
    state: str
    metrics: dict[str, float] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)
    error: str | None = None
    asked: float = 0.0  # copied from the spec: the overhead figures start here
    received: float = 0.0  # the worker unpickled the spec
    started: float = 0.0  # the trial's first line is about to run
    ended: float = 0.0  # the trial's code returned
    recorded: float = 0.0  # its run is ended in the store
    finished: float = 0.0  # set by the driver once the study has been told


@dataclass(frozen=True)
class ImportReference:
    """A name the worker imports rather than unpickles (see `api.ship_namespace`)."""

    module: str
    qualname: str

    def resolve(self) -> Any:
        import importlib

        found: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            found = getattr(found, part)
        return found


@dataclass
class CellPayload:
    """A notebook cell's body (plain Python, magics already transformed by IPython)."""

    code: str
    filename: str = "<sweep trial>"

    def execute(self, params: dict[str, Any], namespace: dict[str, Any]) -> dict[str, float]:
        from notebook_tracker.cells import autolog

        ns = dict(namespace)
        ns.setdefault("__name__", "__main__")
        ns["__builtins__"] = builtins
        ns.update(params)
        exec(compile(self.code, self.filename, "exec"), ns)
        chosen = autolog.select(autolog.analyze_cell(self.code), ns)
        return chosen.metrics


@dataclass
class FunctionPayload:
    """A function called with the trial's params as keyword arguments."""

    fn: Any
    metric_name: str = "objective"

    def execute(self, params: dict[str, Any], namespace: dict[str, Any]) -> dict[str, float]:
        from notebook_tracker.cells.autolog import metric_items

        value = self.fn(**params)
        if value is None:
            return {}
        items = metric_items(self.metric_name, value)
        if items is None:
            raise TypeError(
                f"the sweep's function returned a {type(value).__name__}: return a number (the "
                "objective), a dict of numbers, or None and log the metric with nt.log_metric."
            )
        if isinstance(value, dict):  # a dict's metrics keep their own names
            return {k.split(".", 1)[1]: v for k, v in items.items()}
        return items


@dataclass
class ProjectPayload:
    """An MLproject entry point; the project runner makes the trial's run itself."""

    uri: str
    entry_point: str | None = None
    version: str | None = None
    env_manager: str | None = None

    def run(self, spec: TrialSpec) -> TrialResult:
        from notebook_tracker.client import TrackingClient
        from notebook_tracker.projects.runner import run_project

        result = TrialResult(spec.number, None, FAIL, received=time.time())
        result.started = time.time()
        outcome = run_project(
            self.uri,
            self.entry_point,
            parameters=dict(spec.params),
            version=self.version,
            env_manager=self.env_manager,
            run_name=spec.run_name,
            tracking_uri=spec.tracking_uri,
            output=lambda stream, text: None,  # the run keeps its own stdout/stderr artifacts
            tags={TAG_TRIAL: str(spec.number)},
            parent_run_id=spec.parent_run_id,
        )
        result.ended = time.time()
        client = TrackingClient(spec.tracking_uri)
        result.run_id = outcome.run_id
        result.metrics = dict(client.get_run(outcome.run_id).data.metrics)
        if outcome.succeeded:
            result.state = COMPLETE
        else:
            result.error = f"the entry point ended {outcome.status} (exit code {outcome.exit_code})"
        client.set_tag(outcome.run_id, TAG_STATE, result.state)
        result.recorded = time.time()
        return result

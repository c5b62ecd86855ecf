"""What a sweep is asked (`SweepOptions`) and what it gives back (`SweepResult`, a `TrialRow`
per trial); the driver fills them in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.sweeps.space import Space
from notebook_tracker.sweeps.trial import TrialResult


@dataclass
class SweepOptions:
    name: str
    space: Space
    trials: int | None = None
    parallel: int = 1
    method: str = "tpe"
    metric: str | None = None
    mode: str = "min"
    pruner: Any = None
    experiment_id: str = "0"
    parent_run_id: str | None = None
    resume: bool = False
    seed: int | None = None
    # None: on unless switched off for the session (the variable or disable_system_metrics_logging)
    system_metrics: bool | None = None


@dataclass
class TrialRow:
    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None
    run_id: str | None = None
    seconds: float | None = None
    error: str | None = None
    result: TrialResult | None = None


@dataclass
class SweepResult:
    run_id: str
    name: str
    metric: str | None
    mode: str
    rows: list[TrialRow] = field(default_factory=list)
    best: TrialRow | None = None
    status: str = "RUNNING"

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best.params) if self.best else {}

    @property
    def best_value(self) -> float | None:
        return self.best.value if self.best else None


Progress = Callable[[SweepResult], None]

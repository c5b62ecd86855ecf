"""`nt.sweep(...)` and the two front ends' entry points (the `%%sweep` magic, the CLI).

Each turns what the user gave into a payload, a pool and `SweepOptions`, then hands them to
the driver; nothing here runs trials.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from notebook_tracker.sweeps.driver import METHODS, SweepDriver, SweepOptions, SweepResult
from notebook_tracker.sweeps.executors import make_pool
from notebook_tracker.sweeps.records import check_name
from notebook_tracker.sweeps.space import Space, SpaceError, parse_space
from notebook_tracker.sweeps.trial import (
    CellPayload,
    FunctionPayload,
    ImportReference,
    ProjectPayload,
)

PRUNERS = ("median", "percentile", "halving", "hyperband")
# Never shipped to a cell's trials: the shell's own objects, and what cannot mean anything there.
_SHELL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def make_pruner(prune: Any) -> Any:
    """None for no pruning; an Optuna pruner from True/a name, or the pruner given."""
    if prune is None or prune is False:
        return None
    import optuna

    if prune is True or prune == "median":
        # Optuna's default waits for 5 trials; sweeps here are often short.
        return optuna.pruners.MedianPruner(n_startup_trials=3)
    if prune == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=3)
    if prune == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if prune == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if isinstance(prune, optuna.pruners.BasePruner):
        return prune
    raise SpaceError(
        f"prune={prune!r}: use True, one of {', '.join(PRUNERS)}, or an Optuna pruner."
    )


def ship_namespace(namespace: Mapping[str, Any]) -> tuple[bytes, list[str]]:
    """The namespace as bytes for the workers, and the names that could not travel."""
    import cloudpickle

    values: dict[str, bytes] = {}
    skipped = []
    for name, value in namespace.items():
        if name.startswith("_") or name in _SHELL_NAMES:
            continue
        try:
            values[name] = cloudpickle.dumps(value)
        except Exception:
            reference = _import_reference(value)
            if reference is None:
                skipped.append(name)
            else:
                values[name] = cloudpickle.dumps(reference)
    return cloudpickle.dumps(values), skipped


def _import_reference(value: Any) -> ImportReference | None:
    """A function or class that will not pickle (wrapped, say, by an autologging patch) but
    that its module gives back by name, itself or the original it wraps: workers import it."""
    import importlib

    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    originals = [value]
    while hasattr(originals[-1], "__wrapped__") and len(originals) < 5:
        originals.append(originals[-1].__wrapped__)  # a patch that kept the wrapped original
    return ImportReference(module, qualname) if any(found is o for o in originals) else None


def _in_kernel() -> bool:
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def default_progress(space: Space) -> Callable[[SweepResult], None]:
    from notebook_tracker.widgets.sweep_table import PrintProgress, SweepTable

    return SweepTable(space.names) if _in_kernel() else PrintProgress()


def run_sweep(
    payload: Any,
    space: str | Mapping[str, Any] | Space,
    *,
    name: str | None = None,
    trials: int | None = None,
    parallel: int = 1,
    method: str = "tpe",
    metric: str | None = None,
    mode: str = "min",
    prune: Any = False,
    executor: Any = None,
    on: str | None = None,
    experiment: str | None = None,
    resume: bool = False,
    seed: int | None = None,
    namespace: bytes | None = None,
    progress: Callable[[SweepResult], None] | None = None,
    system_metrics: bool | None = None,
) -> SweepResult:
    from notebook_tracker import fluent

    parsed = parse_space(space)
    if method not in METHODS:
        raise SpaceError(f"method={method!r}: use one of {', '.join(METHODS)}.")
    if mode not in ("min", "max"):
        raise SpaceError(f"mode={mode!r}: use min or max.")
    if trials is not None and trials < 1:
        raise SpaceError(f"trials={trials}: run at least 1 trial.")
    if method == "grid":
        parsed.grid()  # says which dimension is continuous before anything starts
    pruner = make_pruner(prune)
    if pruner is not None and isinstance(payload, ProjectPayload):
        raise SpaceError(
            "Pruning needs the trial's code to log through nt.log_metric in a sweep worker; "
            "project entry points run as their own processes: drop --prune."
        )
    client = fluent.current_client()
    if experiment:
        experiment_id = fluent.get_or_create_experiment(client, experiment).experiment_id
    else:
        experiment_id = fluent.resolve_experiment_id(None)
    active = fluent.active_run()
    options = SweepOptions(
        name=check_name(name or time.strftime("sweep-%Y%m%d-%H%M%S")),
        space=parsed,
        trials=trials,
        parallel=parallel,
        method=method,
        metric=metric,
        mode=mode,
        pruner=pruner,
        experiment_id=experiment_id,
        parent_run_id=active.info.run_id if active is not None else None,
        resume=resume,
        seed=seed,
        system_metrics=system_metrics,
    )
    if isinstance(payload, ProjectPayload) and executor is None and on is None:
        # A project's trial is a child process already: threads in this process wait on them.
        from notebook_tracker.sweeps.executors import Pool, ProjectThreads

        def factory() -> Pool:
            return ProjectThreads(parallel)
    else:

        def factory() -> Pool:
            return make_pool(parallel, executor, on, namespace)

    driver = SweepDriver(
        options, payload, factory, client.tracking_uri, progress or default_progress(parsed)
    )
    return driver.run()


def sweep(
    fn: Callable[..., Any],
    space: str | Mapping[str, Any],
    trials: int | None = None,
    parallel: int = 1,
    executor: Any = None,
    *,
    name: str | None = None,
    method: str = "tpe",
    metric: str | None = None,
    mode: str = "min",
    prune: Any = False,
    on: str | None = None,
    experiment: str | None = None,
    resume: bool = False,
    seed: int | None = None,
    progress: Callable[[SweepResult], None] | None = None,
    system_metrics: bool | None = None,
) -> SweepResult:
    """Sweep `fn(**params)` over `space`, each call a child run of one sweep run.

    `fn` returns the objective (a number, logged as `metric` or "objective"), a dict of numbers,
    or None after logging metrics with `nt.log_metric`. Trials run in `parallel` local
    processes by default, or on `executor` (any concurrent.futures.Executor, a
    dask.distributed.Client) or `on="dask://HOST:PORT"`. See docs/sweeps.md.
    """
    if not callable(fn):
        raise SpaceError(f"nt.sweep needs a function to call, not a {type(fn).__name__}.")
    return run_sweep(
        FunctionPayload(fn, metric or "objective"),
        space,
        name=name,
        trials=trials,
        parallel=parallel,
        method=method,
        metric=metric,
        mode=mode,
        prune=prune,
        executor=executor,
        on=on,
        experiment=experiment,
        resume=resume,
        seed=seed,
        progress=progress,
        system_metrics=system_metrics,
    )


def sweep_cell(
    code: str, namespace: Mapping[str, Any], **options: Any
) -> tuple[SweepResult, list[str]]:
    """The `%%sweep` magic's work: `code` is the cell as plain Python."""
    try:
        compile(code, "<sweep cell>", "exec")
    except SyntaxError as error:
        raise SpaceError(f"The cell does not compile: {error}") from None
    blob, skipped = ship_namespace(namespace)
    return run_sweep(CellPayload(code), namespace=blob, **options), skipped


def sweep_project(uri: str, entry_point: str | None, **options: Any) -> SweepResult:
    version = options.pop("version", None)
    env_manager = options.pop("env_manager", None)
    return run_sweep(ProjectPayload(uri, entry_point, version, env_manager), **options)

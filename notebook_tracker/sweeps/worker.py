"""The worker side of a trial: adopt the trial's run, run the code, record how it ended.

Runs in any process (a local pool's, a Dask worker's) and talks only to the tracking store,
so no scheduler protocol of our own is needed: the executor carries bytes in and a result out.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import traceback
from typing import Any

from notebook_tracker.sweeps.trial import (
    COMPLETE,
    FAIL,
    PRUNED,
    TAG_ERROR,
    TAG_PRUNED_AT,
    TAG_STATE,
    TrialPruned,
    TrialResult,
    TrialSpec,
)

_NAMESPACE: bytes | None = None  # set once per local-pool worker by `init_worker`


def init_worker(namespace: bytes | None) -> None:
    """A local pool's initializer: the notebook's namespace arrives once per process."""
    import signal

    global _NAMESPACE
    _NAMESPACE = namespace
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Interrupting the kernel signals its whole process group; the driver stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def load_namespace(blob: bytes | None) -> dict[str, Any]:
    """A fresh copy of the shipped namespace: trials never see each other's changes."""
    if not blob:
        return {}
    import cloudpickle

    from notebook_tracker.sweeps.trial import ImportReference

    values: dict[str, bytes] = cloudpickle.loads(blob)
    namespace = {name: cloudpickle.loads(data) for name, data in values.items()}
    for name, value in namespace.items():
        if isinstance(value, ImportReference):
            namespace[name] = value.resolve()
    return namespace


class PruneHook:
    """Feeds the trial's stepped metric, as `nt.log_metric` logs it, to an Optuna pruner.

    The pruner judges this trial against the trials complete when it was asked (a local
    in-memory study built from `spec.history`), so workers need no channel to the driver.
    """

    def __init__(self, active: Any, spec: TrialSpec) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction=spec.direction, pruner=spec.pruner)  # type: ignore[arg-type]
        for value, steps in spec.history:
            study.add_trial(
                optuna.trial.create_trial(
                    value=value, intermediate_values=steps, params={}, distributions={}
                )
            )
        self.trial = study.ask()
        self.metric = spec.metric
        self.seen: dict[int, float] = {}
        self._append = active.append_row
        active.append_row = self.append  # the fluent fast path calls this for every point

    def append(self, row: tuple[str, str, float, float, int]) -> None:
        self._append(row)
        _, key, value, _, step = row
        if self.metric is None:
            self.metric = key  # no --metric: the first metric the trial logs feeds the pruner
        if key != self.metric or step in self.seen:
            return
        self.seen[step] = value
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise TrialPruned(step)


def _close_leftovers() -> None:
    from notebook_tracker import fluent

    while fluent.active_run() is not None:
        fluent.end_run("KILLED")


def run_trial(blob: bytes, namespace: bytes | None = None) -> TrialResult:
    """Run one trial; the entry point every executor is handed."""
    received = time.time()
    import cloudpickle

    from notebook_tracker import fluent

    spec: TrialSpec = cloudpickle.loads(blob)
    if hasattr(spec.payload, "run"):  # a project makes its own run in its own process
        return spec.payload.run(spec)
    fluent.set_tracking_uri(spec.tracking_uri)
    _close_leftovers()
    active = fluent.start_run(run_id=spec.run_id, log_system_metrics=spec.system_metrics)
    result = TrialResult(spec.number, spec.run_id, COMPLETE, asked=spec.asked, received=received)
    hook = PruneHook(active, spec) if spec.pruner is not None else None
    ns = load_namespace(namespace if namespace is not None else _NAMESPACE)
    out = io.StringIO()
    tags: dict[str, str] = {}
    found: dict[str, float] = {}
    try:
        with contextlib.redirect_stdout(out):
            result.started = time.time()
            try:
                found = spec.payload.execute(spec.params, ns)
            finally:
                result.ended = time.time()
    except TrialPruned as pruned:
        result.state = PRUNED
        tags[TAG_PRUNED_AT] = str(pruned.step)
    except Exception as error:
        result.state = FAIL
        result.error = f"{type(error).__name__}: {error}"[:500]
        tags[TAG_ERROR] = result.error
        fluent.log_text(traceback.format_exc(), "trial/traceback.txt", run_id=spec.run_id)
    if hook is not None:
        result.intermediate = dict(hook.seen)
    _record(active, result, found, tags, out.getvalue())
    result.recorded = time.time()
    return result


def _record(
    active: Any, result: TrialResult, found: dict[str, float], tags: dict[str, str], stdout: str
) -> None:
    from notebook_tracker import fluent
    from notebook_tracker.entities import Metric, RunTag

    client, run_id = active.client, active.info.run_id
    active.buffer.flush(raise_errors=False)
    logged = client.get_run(run_id).data.metrics
    now = int(time.time() * 1000)
    new = {k: v for k, v in found.items() if k not in logged}  # what the trial logged wins
    tags[TAG_STATE] = result.state
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in new.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    if stdout:
        fluent.log_text(stdout, "trial/stdout.txt", run_id=run_id)
    result.metrics = {**logged, **new}
    status = {COMPLETE: "FINISHED", PRUNED: "KILLED", FAIL: "FAILED"}[result.state]
    while fluent.active_run() is not None:  # runs the trial left open end as it did
        top = fluent.active_run().info.run_id  # type: ignore[union-attr]
        fluent.end_run(status)
        if top == run_id:
            break

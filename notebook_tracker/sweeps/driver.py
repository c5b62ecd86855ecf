"""The driver: one Optuna study (ask/tell) feeding trials to a pool, recording the sweep run.

Optuna chooses the params; the pool runs the trials; the store holds everything, so the
sweep can resume from it. The driver never runs trial code itself.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Callable
from typing import Any

import cloudpickle

from notebook_tracker.client import TrackingClient
from notebook_tracker.sweeps import records
from notebook_tracker.sweeps.executors import Pool
from notebook_tracker.sweeps.results import Progress, SweepOptions, SweepResult, TrialRow
from notebook_tracker.sweeps.space import Space, SpaceError
from notebook_tracker.sweeps.trial import COMPLETE, FAIL, PRUNED, TrialResult, TrialSpec
from notebook_tracker.system_metrics.settings import should_log

METHODS = ("grid", "random", "tpe")
HEARTBEAT_EVERY = 60.0
MAX_ATTEMPTS = 2  # a trial whose worker died runs once more, then it is marked FAILED


def make_sampler(method: str, space: Space, seed: int | None) -> Any:
    import optuna

    if method == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise SpaceError(f"--method {method!r}: use one of {', '.join(METHODS)}.")


class SweepDriver:
    def __init__(
        self,
        options: SweepOptions,
        payload: Any,
        pool_factory: Callable[[], Pool],
        tracking_uri: str,
        progress: Progress | None = None,
    ) -> None:
        self.o = options
        self.payload = payload
        self.pool_factory = pool_factory
        self.client = TrackingClient(tracking_uri)
        self.uri = self.client.tracking_uri
        self.progress = progress or (lambda result: None)
        self.metric = options.metric
        self.direction = "maximize" if options.mode == "max" else "minimize"
        self.history: list[tuple[float, dict[int, float]]] = []
        self.pending: dict[cf.Future[Any], tuple[Any, TrialSpec, int, int]] = {}
        self.generation = 0

    # -- the sweep run and its past ----------------------------------------------------------
    def _open_sweep(self) -> tuple[Any, list[records.PastTrial]]:
        o = self.o
        existing = records.find_sweep(self.client, o.experiment_id, o.name)
        if existing is None:
            if o.resume:
                raise SpaceError(
                    f"No sweep named {o.name!r} in this experiment to resume: run it without "
                    "--resume to start it."
                )
            run = records.create_sweep(
                self.client,
                o.experiment_id,
                o.name,
                o.space.text(),
                o.method,
                o.mode,
                o.metric,
                o.parent_run_id,
            )
            return run, []
        tags = existing.data.tags
        if tags.get(records.TAG_SPACE) != o.space.text():
            raise SpaceError(
                f"Sweep {o.name!r} was run over {tags.get(records.TAG_SPACE)!r}, not "
                f"{o.space.text()!r}: give the sweep a new name to search a different space."
            )
        self.metric = self.metric or tags.get(records.TAG_METRIC)
        run_id = existing.info.run_id
        self.client.store.update_run_info(run_id, status="RUNNING")
        past = records.past_trials(self.client, run_id, o.experiment_id)
        for trial in past:
            if trial.status == "RUNNING":  # its kernel died under it
                records.end_trial_run(self.client, trial.run_id, "KILLED", "KILLED", "")
        return existing, past

    def _feed(self, study: Any, past: list[records.PastTrial]) -> list[records.PastTrial]:
        """Give Optuna the trials the store holds as done; the rest will be asked again."""
        import optuna

        dists = self.o.space.to_optuna()
        kept = []
        for trial in past:
            if not records.counts_as_done(trial) or set(trial.params) != set(dists):
                continue
            params = {k: _typed(dists[k], v) for k, v in trial.params.items()}
            value = trial.metrics.get(self.metric) if self.metric else None
            if trial.state == COMPLETE and value is None:
                continue
            if self.o.pruner is not None and self.metric:
                steps = self.client.get_metric_history(trial.run_id, self.metric)
                trial.intermediate = {int(m.step): float(m.value) for m in steps}
            state = optuna.trial.TrialState.COMPLETE if trial.state == COMPLETE else None
            study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=dists,
                    value=value if state is not None else None,
                    state=state or optuna.trial.TrialState.PRUNED,
                    intermediate_values=trial.intermediate,
                )
            )
            if state is not None and value is not None:
                self.history.append((value, trial.intermediate))
            kept.append(trial)
        return kept

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> SweepResult:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        o = self.o
        sweep_run, past = self._open_sweep()
        self.sweep_id = sweep_run.info.run_id
        result = SweepResult(self.sweep_id, o.name, self.metric, o.mode)
        self.result = result
        self.dists = o.space.to_optuna()
        study = optuna.create_study(
            direction=self.direction,  # type: ignore[arg-type]
            sampler=make_sampler(o.method, o.space, o.seed),
        )
        kept = self._feed(study, past)
        for trial in kept:
            value = trial.metrics.get(self.metric) if self.metric else None
            params = {k: _typed(self.dists[k], v) for k, v in trial.params.items()}
            result.rows.append(TrialRow(trial.number, trial.state or "", params, value))
        self._update_best(study)
        self.next_number = max((t.number for t in past), default=-1) + 1
        target = (
            o.trials
            if o.trials is not None
            else (o.space.grid_size() if o.method == "grid" else 10)
        )
        if o.method == "grid":
            target = min(target, o.space.grid_size())
        todo = max(0, target - len(kept))
        self.progress(result)
        pool = self.pool_factory() if todo else None
        status = "FINISHED"
        try:
            if pool is not None:
                self._loop(study, pool, todo)
        except BaseException as error:
            status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
            self._abandon(pool, study, status, error)
            raise
        finally:
            result.status = status
            self._finish(status)
            self.progress(result)
        if pool is not None:
            pool.stop()
        return result

    def _submit(
        self, study: Any, pool: Pool, trial: Any = None, spec: Any = None, attempt: int = 1
    ) -> None:
        if spec is None:
            asked = time.time()
            trial = study.ask(self.dists)
            number = self.next_number
            self.next_number += 1
            params = dict(trial.params)
            name = f"{self.o.name}-{number}"
            run_id = None
            if not hasattr(self.payload, "run"):
                run_id = records.create_trial_run(
                    self.client, self.o.experiment_id, self.sweep_id, number, params, name
                )
            spec = TrialSpec(
                number,
                run_id,
                self.sweep_id,
                self.o.experiment_id,
                self.uri,
                params,
                self.metric,
                self.direction,
                self.payload,
                pruner=self.o.pruner,
                history=list(self.history),
                run_name=name,
                system_metrics=should_log(self.o.system_metrics, default=True),
                asked=asked,
            )
            self.result.rows.append(TrialRow(number, "RUNNING", params, run_id=run_id))
        spec.submitted = time.time()
        blob = cloudpickle.dumps(spec)
        try:
            future = pool.submit(blob)
        except Exception as error:  # the pool broke before we heard of it
            if not (pool.lost_worker(error) and pool.can_restart):
                raise
            self._restart(pool)
            future = pool.submit(blob)
        self.pending[future] = (trial, spec, attempt, self.generation)

    def _restart(self, pool: Pool) -> None:
        pool.restart()
        self.generation += 1

    def _loop(self, study: Any, pool: Pool, todo: int) -> None:
        asked = 0
        beat = time.monotonic()
        # Trials whose worker died run again one at a time, so a trial that kills its worker
        # every time takes no other trial down with it on its second attempt.
        retries: list[tuple[Any, TrialSpec, int]] = []
        while True:
            retrying = any(entry[2] > 1 for entry in self.pending.values())
            if retries and not self.pending:
                self._submit(study, pool, *retries.pop(0))
            elif not retries and not retrying:
                while len(self.pending) < max(1, self.o.parallel) and asked < todo:
                    self._submit(study, pool)
                    asked += 1
            if not self.pending:
                return
            done, _ = cf.wait(list(self.pending), timeout=1.0, return_when=cf.FIRST_COMPLETED)
            for future in done:
                trial, spec, attempt, generation = self.pending.pop(future)
                try:
                    outcome: TrialResult = future.result()
                except Exception as error:
                    lost = pool.lost_worker(error)
                    if lost and attempt < MAX_ATTEMPTS and pool.can_restart:
                        if generation == self.generation:
                            self._restart(pool)
                        retries.append((trial, spec, attempt + 1))
                        continue
                    why = f"{type(error).__name__}: {error}"
                    if lost:
                        why = f"the trial's worker died ({why}); attempts: {attempt}"
                    outcome = TrialResult(spec.number, spec.run_id, FAIL, error=why[:500])
                    if spec.run_id:
                        records.end_trial_run(self.client, spec.run_id, "FAILED", FAIL, why)
                self._tell(study, trial, spec, outcome)
            if time.monotonic() - beat > HEARTBEAT_EVERY:
                beat = time.monotonic()
                ids = [self.sweep_id] + [
                    s.run_id for _, s, _, _ in self.pending.values() if s.run_id
                ]
                heartbeat = getattr(self.client.store, "heartbeat", None)
                if heartbeat is not None:
                    heartbeat(ids)

    def _tell(self, study: Any, trial: Any, spec: TrialSpec, outcome: TrialResult) -> None:
        import optuna

        row = next(r for r in self.result.rows if r.number == spec.number)
        row.run_id = outcome.run_id or row.run_id
        row.result = outcome
        row.error = outcome.error
        if outcome.started and outcome.ended:
            row.seconds = outcome.ended - outcome.started
        state = outcome.state
        if state == COMPLETE and self.metric is None:
            self.metric = self._choose_metric(outcome.metrics)
            self.result.metric = self.metric
            self.client.set_tag(self.sweep_id, records.TAG_METRIC, self.metric)
        value = outcome.metrics.get(self.metric) if self.metric else None
        if state == COMPLETE and value is None:
            state = FAIL
            logged = ", ".join(sorted(outcome.metrics)) or "nothing"
            row.error = f"metric {self.metric!r} was not logged (the trial logged {logged})"
        for step, point in sorted(outcome.intermediate.items()):
            trial.report(point, step)
        row.state = state
        if state == COMPLETE:
            row.value = value
            _tell(study, trial, value)
            self.history.append((float(value), dict(outcome.intermediate)))  # type: ignore[arg-type]
        elif state == PRUNED:
            row.value = value
            _tell(study, trial, state=optuna.trial.TrialState.PRUNED)
        else:
            _tell(study, trial, state=optuna.trial.TrialState.FAIL)
        outcome.finished = time.time()
        self._update_best(study)
        self.progress(self.result)

    def _choose_metric(self, metrics: dict[str, float]) -> str:
        # Hardware samples (system/...) are not what a trial is judged by.
        metrics = {k: v for k, v in metrics.items() if not k.startswith("system/")}
        if len(metrics) == 1:
            return next(iter(metrics))
        named = ", ".join(sorted(metrics)) or "no metric"
        raise SpaceError(
            f"The trial logged {named}: say which one to optimise with --metric NAME "
            "(metric= in nt.sweep) and --mode min|max."
        )

    def _update_best(self, study: Any) -> None:
        complete = [r for r in self.result.rows if r.state == COMPLETE and r.value is not None]
        if not complete or self.metric is None:
            return
        pick = max if self.direction == "maximize" else min
        best = pick(complete, key=lambda r: r.value)  # type: ignore[arg-type, return-value]
        if self.result.best is best:
            return
        self.result.best = best
        if best.run_id:
            records.record_best(
                self.client,
                self.sweep_id,
                self.metric,
                best.value,  # type: ignore[arg-type]
                best.number,
                best.run_id,
                best.params,
                len(complete),
            )

    # -- the end -----------------------------------------------------------------------------
    def _abandon(self, pool: Pool | None, study: Any, status: str, error: BaseException) -> None:
        """Stop what still runs; its trials' runs end `status` (KILLED on interrupt)."""
        import optuna

        if pool is not None:
            pool.stop(kill=True, pending=list(self.pending))
        why = "the sweep was interrupted" if status == "KILLED" else f"the sweep stopped: {error}"
        for _trial, spec, _, _ in self.pending.values():
            row = next(r for r in self.result.rows if r.number == spec.number)
            row.state = "KILLED" if status == "KILLED" else FAIL
            if spec.run_id:
                records.end_trial_run(self.client, spec.run_id, status, row.state, why)
            _tell(study, _trial, state=optuna.trial.TrialState.FAIL)
        self.pending.clear()
        self.progress(self.result)

    def _finish(self, status: str) -> None:
        from notebook_tracker.sweeps.plots import log_plots

        try:
            if self.metric and any(r.value is not None for r in self.result.rows):
                log_plots(self.client, self.sweep_id, self.result, self.o.space)
        finally:
            self.client.set_terminated(self.sweep_id, status)


def _typed(dist: Any, text: str) -> Any:
    """A param as the store holds it (text), back to the value Optuna chose."""
    import optuna.distributions as od

    if isinstance(dist, od.CategoricalDistribution):
        for choice in dist.choices:
            if str(choice) == text:
                return choice
        return text
    if isinstance(dist, od.IntDistribution):
        return int(float(text))
    return float(text)


def _tell(study: Any, trial: Any, value: float | None = None, state: Any = None) -> None:
    """`study.tell`, for a loop of our own: the grid sampler asks a finished grid to stop,
    which Optuna allows only inside `optimize`; the trial is recorded before that."""
    try:
        study.tell(trial, value, state=state)
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise

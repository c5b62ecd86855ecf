"""`%%track_run`: a cell's body run inside a tracked run, start to end.

Order matters: the run starts before the body, the body runs exactly as a plain cell would,
then everything is gathered into one plan, written, the run ends (flushing buffered metrics),
the card is finalized, and the body's error, if any, becomes the cell's error.
"""

from __future__ import annotations

import os
from typing import Any

from IPython.core.error import UsageError

from notebook_tracker import config, env, fluent
from notebook_tracker.cells.arguments import TrackOptions
from notebook_tracker.clock import now_ms
from notebook_tracker.entities import Metric, Param, RunTag
from notebook_tracker.errors import TrackerError
from notebook_tracker.magics import collect, files, git_info, history, lineage, notebook_path
from notebook_tracker.magics.context import context_tags, git_tags
from notebook_tracker.magics.figures import FigureWatch
from notebook_tracker.magics.runner import CellOutcome, run_body

MAX_SPARKLINE_KEYS = 12
SPARKLINE_POINTS = 1000
TRACK_CELL_PREFIXES = ("%%track_run", "%%run_experiment")


def _experiment_id(name: str | None) -> str | None:
    if not name:
        return None
    # Several kernels may create it at once: get-or-create settles the race.
    return fluent.get_or_create_experiment(fluent.current_client(), name).experiment_id


def _store_dirs(uri: str) -> tuple[str, ...]:
    """Folders of a local store, never captured as files the cell wrote."""
    dirs = [config.default_artifact_root(uri)]
    if uri.startswith("sqlite:///"):
        dirs.append(os.path.dirname(uri[len("sqlite:///") :]))
    return tuple(d for d in dirs if d and "://" not in d)


class TrackedCell:
    def __init__(
        self,
        shell: Any,
        options: TrackOptions,
        body: str,
        recorder: history.ExecutionRecorder | None = None,
    ) -> None:
        self.shell = shell
        self.options = options
        self.body = body
        self.recorder = recorder
        self.count, self.cell_id = history.current_execution(shell)
        # The cell being executed, when the magic runs as (part of) one.
        self.outer = shell.displayhook.exec_result
        info = getattr(self.outer, "info", None)
        self.raw_cell: str = getattr(info, "raw_cell", None) or body
        # The cell is this magic and nothing else: its failure is the cell's failure.
        self.whole_cell = self.outer is not None and self.raw_cell.lstrip().startswith(
            TRACK_CELL_PREFIXES
        )
        self.card: Any = None
        self.live: Any = None
        self.active: Any = None

    # -- before the body -----------------------------------------------------------------------
    def _start(self) -> None:
        shell, opts = self.shell, self.options
        self.cwd = os.getcwd()
        try:
            self.code: str | None = shell.transform_cell(self.body)
        except Exception:
            self.code = None
        self.git = git_info.GitProbe(self.cwd)  # runs while the cell does
        self.location = notebook_path.locate(shell.user_ns, code=self.raw_cell)
        tags = context_tags(self.location, self.count, self.cell_id)
        tags.update(opts.tags)
        nested = opts.nested or fluent.active_run() is not None
        # A notebook run as a project entry point: its tracked cells are the project run's
        # children, not takeovers of it.
        parent = None if nested else env.parent_run_id()
        self.active = fluent.start_run(
            experiment_id=_experiment_id(opts.experiment),
            run_name=opts.name,
            nested=nested,
            parent_run_id=parent,
            tags=tags,
            log_system_metrics=opts.system_metrics,
        )
        if not opts.quiet:
            self._show_card()
        exclude = _store_dirs(self.active.client.tracking_uri)
        if self.location.file is not None:
            exclude += (str(self.location.file),)
        self.exclude = exclude
        self.before = files.snapshot(self.cwd, exclude) if opts.autolog else None
        self.figures = FigureWatch(shell) if opts.autolog else None

    def _show_card(self) -> None:
        from notebook_tracker.widgets.card_html import CardState
        from notebook_tracker.widgets.live import LiveSampler, LiveUpdater
        from notebook_tracker.widgets.run_card import RunCard

        info = self.active.info
        state = CardState(
            run_id=info.run_id,
            run_name=info.run_name,
            experiment_id=info.experiment_id,
            start_ms=info.start_time,
            parent_run_id=self.active.data.tags.get("mlflow.parentRunId"),
        )
        self.card = RunCard(state)
        self.card.show()
        sampler = LiveSampler(self.active.buffer, info.run_id, state)
        self.live = LiveUpdater(self.card, sampler).start()

    # -- after the body ------------------------------------------------------------------------
    def _plan(self, outcome: CellOutcome) -> collect.LogPlan:
        plan = collect.LogPlan()
        run_id = self.active.info.run_id

        def logged() -> Any:
            self.active.buffer.flush(raise_errors=False)
            return self.active.client.get_run(run_id).data

        collect.add_outputs(plan, self.body, outcome)
        collect.add_autolog(plan, self.code, self.shell.user_ns, self.options, logged)
        if self.figures is not None:
            collect.add_figures(plan, self.figures.captured, self.figures.errors)
        after = files.snapshot(self.cwd, self.exclude) if self.before is not None else None
        collect.add_files(plan, self.cwd, self.before, after, self.options.artifacts)
        git = self.git.result()
        plan.tags.update(git_tags(git))
        if git is not None and git.diff:
            plan.blobs["git/diff.patch"] = git.diff
        current = lineage.Execution(self.count, self.raw_cell, self.code or self.body, self.cell_id)
        past = history.executions(self.shell, self.recorder, self.count)
        transform = self.recorder.transform if self.recorder else self.shell.transform_cell
        deleted = self.recorder.deleted if self.recorder else set()
        collect.add_lineage(plan, past, current, self.location.file, transform, run_id, deleted)
        return plan

    def _write(self, plan: collect.LogPlan) -> None:
        client, run_id = self.active.client, self.active.info.run_id
        now = now_ms()
        client.store.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in plan.metrics.items()],
            params=[Param(k, v) for k, v in plan.params.items()],
            tags=[RunTag(k, v) for k, v in plan.tags.items()],
        )
        from notebook_tracker.artifacts import get_artifact_repository

        repo = get_artifact_repository(self.active.info.artifact_uri)
        for path, data in plan.blobs.items():
            repo.write_bytes(path, data)
        for local, artifact_dir in plan.local_files:
            try:
                repo.log_artifact(local, artifact_dir or None)
            except OSError as error:  # deleted or unreadable since the scan
                plan.notes.append(f"{local} not logged: {error}")

    def _end(self, status: str) -> None:
        """End our run (and runs the cell left open inside it) with `status`."""
        run_id = self.active.info.run_id
        # The fluent stack has no public view; only read here, never changed but by end_run.
        open_ids = [r.info.run_id for r in fluent.active_runs()]
        if run_id not in open_ids:
            return  # the cell ended it itself
        while fluent.active_run() is not None:
            top = fluent.active_run().info.run_id  # type: ignore[union-attr]
            fluent.end_run(status)
            if top == run_id:
                break

    def _finish_card(self, plan: collect.LogPlan | None) -> None:
        if self.card is None:
            return
        state, client = self.card.state, self.active.client
        run = client.get_run(self.active.info.run_id)
        state.status, state.end_ms = run.info.status, run.info.end_time
        state.params = dict(run.data.params)
        state.metrics = dict(run.data.metrics)
        state.error = run.data.tags.get("notebook_tracker.error")
        if plan is not None and plan.report is not None:
            state.hidden_state = plan.report.hidden_state
            state.hidden_reasons = list(plan.report.reasons)
        stepped = [
            k
            for k in run.data.metrics
            if (plan is None or k not in plan.metrics)
            # of the system metrics, the card draws only the CPU curve
            and (not k.startswith("system/") or k.endswith("/cpu_utilization_percentage"))
        ]
        from notebook_tracker.widgets.card_html import Series

        for key in stepped[:MAX_SPARKLINE_KEYS]:
            hist = client.get_metric_history(run.info.run_id, key)
            if len(hist) > 1:
                import numpy as np

                # A sparkline needs few points: evenly spaced, first and last included.
                pick = np.unique(
                    np.linspace(0, len(hist) - 1, SPARKLINE_POINTS).round().astype(int)
                )
                state.series[key] = Series(
                    hist.steps[pick].tolist(),
                    hist.timestamps[pick].tolist(),
                    hist.values[pick].tolist(),
                )
            else:
                state.series.pop(key, None)
        self.card.finish()

    # -- the whole -----------------------------------------------------------------------------
    def run(self) -> None:
        shell, outer = self.shell, self.outer
        try:
            self._start()
        except BaseException as error:
            if self.live is not None:
                self.live.stop()
            if self.active is not None:
                self._end("FAILED")
            if isinstance(error, TrackerError):
                # Nothing ran: say what is wrong with the store or the options, no traceback.
                raise UsageError(f"%%track_run could not start a run: {error}") from None
            raise
        outcome = CellOutcome()
        try:
            with self._framework_autolog():
                outcome = run_body(shell, self.body)
        except BaseException as error:  # interrupted outside the body's own code
            outcome.error = error
        finally:
            if self.figures is not None:
                self.figures.finish()  # always restore matplotlib and the display formatter
        try:
            self._log_and_end(outcome)
        finally:
            shell.displayhook.exec_result = outer
        if outcome.error is None:
            return
        if outer is not None and self.whole_cell:
            # The body's traceback is already shown: mark the cell failed without a second one.
            outer.error_in_exec = outcome.error
            return
        raise outcome.error

    def _framework_autolog(self) -> Any:
        """scikit-learn, XGBoost, ... log what they train into this run (see frameworks/)."""
        from contextlib import nullcontext

        if not self.options.autolog:
            return nullcontext()
        from notebook_tracker.frameworks import autolog

        return autolog.cell_scope()

    def _log_and_end(self, outcome: CellOutcome) -> None:
        """Log the plan and end the run; an interrupt here still ends it (KILLED)."""
        status = collect.status_of(outcome.error)
        plan = None
        try:
            plan = self._plan(outcome)
            self._write(plan)
        except Exception as error:
            self._warn(f"could not log everything about this cell: {type(error).__name__}: {error}")
        except BaseException:
            status = "KILLED"
            raise
        finally:
            if self.live is not None:
                self.live.stop()
            self._end(status)
        try:
            if plan is not None and self.card is not None:
                self.card.state.notes = plan.notes
                self.card.state.logged = collect.summary(plan)
            self._finish_card(plan)
        except Exception as error:
            self._warn(f"could not show the run card: {type(error).__name__}: {error}")

    def _warn(self, message: str) -> None:
        import sys

        print(f"notebook-tracker: {message}", file=sys.stderr)

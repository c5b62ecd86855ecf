"""`nt.sweep` on the default local process pool (and a user's ProcessPoolExecutor): real Optuna,
real worker processes, a real SQLite store; what a user reads back from the store afterwards."""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys
import time

import cloudpickle
import pytest

import notebook_tracker as nt
from notebook_tracker.client import TrackingClient
from notebook_tracker.sweeps import SpaceError
from notebook_tracker.sweeps.trial import TAG_PRUNED_AT, TAG_STATE, TAG_TRIAL

# Trials run in fresh processes: ship this module's functions by value, as a notebook's are.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def quadratic(x, opt):
    return (x - 1.0) ** 2 + (0.5 if opt == "b" else 0.0)


def children(client: TrackingClient, sweep_run_id: str, experiment_id: str = "0") -> list:
    runs = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{sweep_run_id}'")
    return sorted(runs, key=lambda r: int(r.data.tags[TAG_TRIAL]))


def test_each_trial_is_a_child_run_and_the_sweep_run_holds_the_best_and_its_plots(tracking_uri):
    result = nt.sweep(
        quadratic, "x=float(-2,3) opt=choice(a,b)", trials=6, parallel=2, name="quad",
        method="random", seed=3, progress=lambda r: None,
    )  # fmt: skip
    client = TrackingClient(tracking_uri)
    trials = children(client, result.run_id)
    assert [int(r.data.tags[TAG_TRIAL]) for r in trials] == list(range(6))
    assert all(r.info.status == "FINISHED" and r.data.tags[TAG_STATE] == "COMPLETE" for r in trials)
    for run in trials:
        x, opt = float(run.data.params["x"]), run.data.params["opt"]
        assert run.data.metrics["objective"] == pytest.approx(quadratic(x, opt))
        assert "system/system_memory_usage_megabytes" in run.data.metrics  # on by default
    best = min(trials, key=lambda r: r.data.metrics["objective"])
    sweep_run = client.get_run(result.run_id)
    assert sweep_run.info.status == "FINISHED"
    assert sweep_run.data.tags["sweep.best.run_id"] == best.info.run_id
    assert sweep_run.data.tags["sweep.best.opt"] == best.data.params["opt"]
    assert sweep_run.data.metrics["best.objective"] == best.data.metrics["objective"]
    assert sweep_run.data.params["space.x"] == "float(-2.0,3.0)"
    assert result.best_params["opt"] == best.data.params["opt"]
    plots = {f.path for f in client.list_artifacts(result.run_id, "sweep")}
    assert plots == {"sweep/optimization_history.png", "sweep/parallel_coordinates.png"}
    local = client.download_artifacts(result.run_id, "sweep/parallel_coordinates.png")
    with open(local, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def several_metrics(x):
    return {"a": x, "b": -x}


def test_a_trial_logging_several_metrics_needs_metric_named(tracking_uri):
    with pytest.raises(SpaceError, match=r"logged a, b: say which one .*--metric NAME"):
        nt.sweep(several_metrics, "x=float(0,1)", trials=2, name="two", progress=lambda r: None)
    runs = TrackingClient(tracking_uri).search_runs(
        ["0"], "tags.`notebook_tracker.sweep.name` = 'two'"
    )
    assert runs[0].info.status == "FAILED"
    result = nt.sweep(
        several_metrics, "x=float(0,1)", trials=2, name="two-b", metric="b", mode="max",
        progress=lambda r: None, system_metrics=False,
    )  # fmt: skip
    assert result.best_value == max(r.value for r in result.rows)
    for row in result.rows:
        metrics = TrackingClient(tracking_uri).get_run(row.run_id).data.metrics
        assert sorted(metrics) == ["a", "b"], "no system/... metrics when turned off"


def test_switching_system_metrics_off_for_the_session_reaches_sweep_trials(
    tracking_uri, monkeypatch
):
    monkeypatch.setenv("NOTEBOOK_TRACKER_ENABLE_SYSTEM_METRICS_LOGGING", "false")
    result = nt.sweep(
        several_metrics, "x=float(0,1)", trials=2, name="quiet", metric="a",
        progress=lambda r: None,
    )  # fmt: skip
    for row in result.rows:
        metrics = TrackingClient(tracking_uri).get_run(row.run_id).data.metrics
        assert sorted(metrics) == ["a", "b"], "the session's off switch holds for trials"


def stepped(x):
    for step in range(20):
        nt.log_metric("loss", float(x) + 1.0 / (step + 1), step=step)
        time.sleep(0.01)


def test_pruned_trials_stop_early_and_their_runs_say_so(tracking_uri):
    result = nt.sweep(
        stepped, "x=int(0,9)", trials=10, method="grid", seed=0, metric="loss", prune=True,
        name="pruning", progress=lambda r: None,
    )  # fmt: skip
    client = TrackingClient(tracking_uri)
    trials = children(client, result.run_id)
    pruned = [r for r in trials if r.data.tags[TAG_STATE] == "PRUNED"]
    complete = [r for r in trials if r.data.tags[TAG_STATE] == "COMPLETE"]
    assert pruned and len(complete) >= 3
    for run in pruned:
        assert run.info.status == "KILLED"
        history = client.get_metric_history(run.info.run_id, "loss")
        assert len(history) < 20
        assert int(run.data.tags[TAG_PRUNED_AT]) == history.steps[-1]
    for run in complete:
        assert len(client.get_metric_history(run.info.run_id, "loss")) == 20
    # The median pruner stops a trial only when it is worse than the complete ones' median.
    for run in pruned:
        assert int(run.data.params["x"]) > min(int(r.data.params["x"]) for r in complete)


def dies_on_three(x):
    if x == 3:
        os._exit(1)  # the worker process dies under the trial
    time.sleep(0.2)
    return float(x)


def test_a_trial_that_kills_its_worker_is_retried_then_failed_and_the_sweep_goes_on(tracking_uri):
    result = nt.sweep(
        dies_on_three, "x=int(0,5)", trials=6, parallel=2, method="grid", name="deaths",
        progress=lambda r: None,
    )  # fmt: skip
    client = TrackingClient(tracking_uri)
    trials = children(client, result.run_id)
    assert len(trials) == 6, "no trial is lost"
    by_x = {int(r.data.params["x"]): r for r in trials}
    dead = by_x.pop(3)
    assert dead.info.status == "FAILED" and dead.data.tags[TAG_STATE] == "FAIL"
    assert "worker died" in dead.data.tags["notebook_tracker.error"]
    assert all(r.info.status == "FINISHED" for r in by_x.values())
    assert client.get_run(result.run_id).info.status == "FINISHED"


def slow(x):
    time.sleep(0.4)
    return float(x)


class StopAfter:
    """A progress callback that presses Ctrl-C once `n` trials are complete."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, result) -> None:
        if result.status == "RUNNING" and sum(r.state == "COMPLETE" for r in result.rows) >= self.n:
            raise KeyboardInterrupt


def test_interrupt_kills_unfinished_trials_and_the_same_name_resumes(tracking_uri):
    with pytest.raises(KeyboardInterrupt):
        nt.sweep(
            slow,
            "x=int(0,7)",
            trials=6,
            parallel=2,
            method="grid",
            name="stop",
            progress=StopAfter(2),
        )
    client = TrackingClient(tracking_uri)
    (sweep_run,) = client.search_runs(["0"], "tags.`notebook_tracker.sweep.name` = 'stop'")
    assert sweep_run.info.status == "KILLED"
    first = children(client, sweep_run.info.run_id)
    done_before = {r.info.run_id for r in first if r.data.tags[TAG_STATE] == "COMPLETE"}
    killed = [r for r in first if r.data.tags[TAG_STATE] == "KILLED"]
    assert len(done_before) >= 2 and killed
    assert all(r.info.status == "KILLED" for r in killed)
    assert not [r for r in first if r.info.status == "RUNNING"]

    result = nt.sweep(
        slow,
        "x=int(0,7)",
        trials=6,
        parallel=2,
        method="grid",
        name="stop",
        resume=True,
        progress=lambda r: None,
    )
    assert result.run_id == sweep_run.info.run_id
    after = children(client, sweep_run.info.run_id)
    complete = [r for r in after if r.data.tags[TAG_STATE] == "COMPLETE"]
    assert len(complete) == 6
    assert done_before <= {r.info.run_id for r in complete}, "finished trials are not run again"
    # The grid was fed the trials the store held: no point is tried twice.
    assert len({r.data.params["x"] for r in complete}) == 6
    assert client.get_run(result.run_id).info.status == "FINISHED"


def test_resume_of_an_unknown_sweep_and_a_changed_space_are_refused(tracking_uri):
    with pytest.raises(SpaceError, match="No sweep named 'nope'"):
        nt.sweep(slow, "x=int(0,1)", name="nope", resume=True, progress=lambda r: None)
    nt.sweep(
        quadratic, "x=float(0,1) opt=choice(a)", trials=1, name="fixed", progress=lambda r: None
    )
    with pytest.raises(SpaceError, match="give the sweep a new name"):
        nt.sweep(
            quadratic, "x=float(0,2) opt=choice(a)", trials=1, name="fixed", progress=lambda r: None
        )


def test_a_users_process_pool_executor_runs_the_trials(tracking_uri):
    with cf.ProcessPoolExecutor(2) as pool:
        result = nt.sweep(
            quadratic,
            "x=float(0,2) opt=choice(a,b)",
            trials=3,
            executor=pool,
            name="own",
            progress=lambda r: None,
        )
        assert len({r.result.run_id for r in result.rows}) == 3
    assert all(r.state == "COMPLETE" for r in result.rows)
    with pytest.raises(SpaceError, match="ThreadPoolExecutor"):
        nt.sweep(
            quadratic,
            "x=float(0,2) opt=choice(a)",
            executor=cf.ThreadPoolExecutor(2),
            progress=lambda r: None,
        )

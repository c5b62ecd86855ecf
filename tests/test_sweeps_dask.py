"""Sweeps on Dask: a real `LocalCluster` (2 worker processes, 1 thread each) whose trials log
straight to a real `notebook-tracker server`, as they would from a cluster's machines."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
from standalone_server import running_server

import notebook_tracker as nt
from notebook_tracker.client import TrackingClient
from notebook_tracker.sweeps.trial import TAG_STATE, TAG_TRIAL

distributed = pytest.importorskip(
    "distributed", reason="Dask sweeps need dask[distributed]: pip install '.[sweeps]'"
)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep-server")
    store = f"sqlite:///{folder / 'server.db'}"
    with running_server(folder, store, str(folder / "artifacts"), workers=1) as running:
        nt.set_tracking_uri(running.url)
        try:
            yield running
        finally:
            nt.set_tracking_uri(None)


def scored(lr, depth):
    for step in range(3):
        nt.log_metric("loss", lr * depth + 1.0 / (step + 1), step=step)
    return {"loss": lr * depth + 1.0 / 3, "pid": os.getpid()}


def test_trials_run_on_dask_workers_and_log_to_the_tracking_server(cluster, server):
    with distributed.Client(cluster) as client:
        result = nt.sweep(
            scored, "lr=loguniform(1e-3,1e-1) depth=int(2,8)", trials=4, parallel=2,
            executor=client, metric="loss", name="on-dask", progress=lambda r: None,
        )  # fmt: skip
        workers = set(client.run(os.getpid).values())
    store = TrackingClient(server.url)
    trials = store.search_runs(["0"], f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert len(trials) == 4
    assert all(r.info.status == "FINISHED" and r.data.tags[TAG_STATE] == "COMPLETE" for r in trials)
    pids = {int(r.data.metrics["pid"]) for r in trials}
    assert pids <= workers and os.getpid() not in pids, "trials ran in the cluster's workers"
    for run in trials:
        assert len(store.get_metric_history(run.info.run_id, "loss")) == 3
    best = min(trials, key=lambda r: r.data.metrics["loss"])
    assert store.get_run(result.run_id).data.tags["sweep.best.run_id"] == best.info.run_id


def test_on_a_scheduler_address(cluster, server):
    address = cluster.scheduler_address.replace("tcp://", "dask://")
    result = nt.sweep(
        scored, "lr=float(0.01,0.1) depth=choice(2,4)", trials=2, parallel=2, on=address,
        metric="loss", name="by-address", progress=lambda r: None,
    )  # fmt: skip
    assert [r.state for r in result.rows] == ["COMPLETE", "COMPLETE"]


def dies_once(x, marker):
    flag = Path(marker) / f"died-{x}"
    if x == 1 and not flag.exists():
        flag.write_text("")
        os._exit(1)  # the Dask worker process dies under the trial, once
    time.sleep(0.1)
    return float(x)


def test_a_trial_whose_dask_worker_died_is_rerun_by_dask_and_not_lost(cluster, server, tmp_path):
    with distributed.Client(cluster) as client:
        result = nt.sweep(
            lambda x: dies_once(x, str(tmp_path)), "x=int(0,2)", trials=3, parallel=2,
            method="grid", executor=client, name="dask-death", progress=lambda r: None,
        )  # fmt: skip
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the dead worker
    assert (tmp_path / "died-1").exists(), "the worker did die"
    store = TrackingClient(server.url)
    trials = store.search_runs(["0"], f"tags.mlflow.parentRunId = '{result.run_id}'")
    by_x = {int(r.data.params["x"]): r for r in trials}
    assert sorted(by_x) == [0, 1, 2]
    assert all(r.info.status == "FINISHED" for r in by_x.values())
    assert sorted(int(r.data.tags[TAG_TRIAL]) for r in trials) == [0, 1, 2]

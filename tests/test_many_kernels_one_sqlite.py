"""Twenty processes logging into one SQLite file at once: no "database is locked", nothing lost."""

from __future__ import annotations

import sys
from pathlib import Path

import notebook_tracker as nt
from notebook_tracker.store import forget_stores

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_concurrency import run_fleet  # noqa: E402  (the benchmark's own fleet, shorter)
from concurrency_worker import FLUSHES_PER_RUN, KEYS, STEPS  # noqa: E402

PROCESSES = 20


def test_twenty_processes_logging_at_once_lose_nothing_and_never_see_a_lock_error(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"  # created by the processes themselves, at once
    result = run_fleet(uri, PROCESSES, seconds=2.0)

    assert result["errors"] == []
    assert all(report["runs"] >= 1 for report in result["reports"])
    forget_stores()
    client = nt.TrackingClient(uri)
    run_ids = [run_id for report in result["reports"] for run_id in report["run_ids"]]
    assert len(run_ids) == result["runs"] >= PROCESSES
    for run_id in run_ids:
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["batch"].isdigit()
        for k in range(KEYS):
            steps = [p.step for p in client.get_metric_history(run_id, f"m{k}")]
            assert len(steps) == FLUSHES_PER_RUN * STEPS
            assert len(set(steps)) == len(steps)
    assert result["points"] == result["runs"] * FLUSHES_PER_RUN * STEPS * KEYS

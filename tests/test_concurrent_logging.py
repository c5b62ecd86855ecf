"""Several processes log into one SQLite store at once and nothing is lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import notebook_tracker as nt

WRITER = textwrap.dedent(
    """
    import sys
    import notebook_tracker as nt
    nt.set_tracking_uri(sys.argv[1])
    with nt.start_run(run_name=sys.argv[2]) as run:
        for step in range(10_000):
            nt.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 2500 == 0:
                nt.log_param(f"p{step}", step)
    print(run.info.run_id)
    """
)


def test_four_processes_logging_10000_points_each_lose_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    nt.set_tracking_uri(uri)
    nt.get_experiment("0")  # create the store first, as a user's first call would
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, uri, f"w{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    run_ids = []
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0
        run_ids.append(out.strip())
    for run_id in run_ids:
        history = nt.get_metric_history(run_id, "loss")
        assert len(history) == 10_000
        assert sorted(p.step for p in history) == list(range(10_000))
        run = nt.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert len(run.data.params) == 4
    nt.set_tracking_uri(None)

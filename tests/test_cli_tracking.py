"""`notebook-tracker experiments|runs|gc` as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import notebook_tracker as nt
from notebook_tracker.cli import main


@pytest.fixture
def cli(tracking_uri):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_experiments_create_list_rename_delete_restore(cli):
    assert "with id 1" in cli("experiments", "create", "alpha").stdout
    assert "alpha" in cli("experiments", "list").stdout
    cli("experiments", "rename", "1", "beta")
    assert "beta" in cli("experiments", "list").stdout
    cli("experiments", "delete", "1")
    assert "beta" not in cli("experiments", "list").stdout
    assert "beta" in cli("experiments", "list", "--view", "deleted").stdout
    cli("experiments", "restore", "1")
    assert "beta" in cli("experiments", "list").stdout


def test_runs_list_filters_orders_and_prints_params_and_metrics(cli):
    nt.set_experiment("e")
    for lr, acc in [("0.1", 0.5), ("0.01", 0.9)]:
        with nt.start_run(run_name=f"lr{lr}"):
            nt.log_param("lr", lr)
            nt.log_metric("acc", acc)
    out = cli("runs", "list", "-e", "e", "--order-by", "metrics.acc DESC").stdout
    lines = out.splitlines()
    assert "lr" in lines[0] and "acc" in lines[0]
    assert lines[2].split()[1] == "lr0.01" and lines[3].split()[1] == "lr0.1"
    out = cli("runs", "list", "--filter", "metrics.acc > 0.6").stdout
    assert "lr0.01" in out and "lr0.1 " not in out


def test_runs_describe_delete_restore(cli):
    with nt.start_run() as run:
        nt.log_param("a", 1)
    described = json.loads(cli("runs", "describe", run.info.run_id).stdout)
    assert described["data"]["params"] == {"a": "1"}
    cli("runs", "delete", run.info.run_id)
    assert run.info.run_id not in cli("runs", "list").stdout
    cli("runs", "restore", run.info.run_id)
    assert run.info.run_id in cli("runs", "list").stdout


def test_gc_purges_deleted_runs_and_their_artifacts(cli):
    with nt.start_run() as run:
        nt.log_text("x", "a.txt")
    artifact_dir = Path(run.info.artifact_uri)
    assert artifact_dir.exists()
    nt.delete_run(run.info.run_id)
    assert "Purged 1" in cli("gc").output
    assert not artifact_dir.exists()
    with pytest.raises(nt.TrackerError):
        nt.get_run(run.info.run_id)


def test_errors_are_one_clear_line_and_exit_1(tracking_uri):
    nt.set_experiment("e")  # the store exists: these are errors in what was asked of it
    result = subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", "runs", "list", "--filter", "metrics.acc >"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    store_line, error_line = result.stderr.splitlines()[:2]
    assert store_line.startswith("store: ") and error_line.startswith("Error: ")
    assert "Traceback" not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "notebook_tracker.cli", "runs", "describe", "nope"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "not found" in result.stderr


def test_every_command_has_help():
    runner = CliRunner()
    for args in (
        ["--help"],
        ["experiments", "--help"],
        ["runs", "list", "--help"],
        ["gc", "--help"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output

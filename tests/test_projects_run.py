"""`notebook-tracker run` on local folders: one tracked run per project run, as a user sees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import wait_until
from projects_helpers import artifact_text, cli, only_run, use_project_cache, write_files

from notebook_tracker.client import TrackingClient
from notebook_tracker.errors import ProjectError
from notebook_tracker.projects.runner import run_project

TRAIN = """
import sys
import notebook_tracker as nt

print("args", sys.argv[1:])
print("to stderr", file=sys.stderr)
run = nt.start_run()
nt.log_metric("acc", 0.75)
nt.log_metric("acc", 0.9, step=1)
nt.end_run()
print("child run", run.info.run_id)
"""

MLPROJECT = """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      n: {type: int, default: 3}
      name: string
    command: "python train.py --alpha {alpha} --n {n} --name {name}"
  fail:
    command: "python -c 'import sys; print(\\"bad input\\", file=sys.stderr); sys.exit(3)'"
  shell:
    parameters: {word: string}
    command: "bash job.sh {word}"
"""


@pytest.fixture(autouse=True)
def _store(tracking_uri, tmp_path, monkeypatch):
    use_project_cache(tmp_path, monkeypatch)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(
        tmp_path / "proj",
        {"MLproject": MLPROJECT, "train.py": TRAIN, "job.sh": 'echo "shell says $1"\n'},
    )


def test_run_logs_params_tags_status_and_saves_output(project, tmp_path):
    result = cli(
        "run",
        str(project),
        "-P",
        "name=hello world",
        "-P",
        "extra=7",
        "--experiment-name",
        "projects",
        "--run-name",
        "first",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "args ['--alpha', '0.5', '--n', '3', '--name', 'hello world', '--extra', '7']" in (
        result.stdout
    )
    assert "to stderr" in result.stderr
    client = TrackingClient()
    experiment = client.get_experiment_by_name("projects")
    run = only_run(client, experiment.experiment_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "first"
    assert run.data.params == {"alpha": "0.5", "n": "3", "name": "hello world", "extra": "7"}
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == str(project)
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "local"
    assert "notebook_tracker.killed_reason" not in tags
    assert "args [" in artifact_text(client, run.info.run_id, "outputs/stdout.txt")
    assert "to stderr" in artifact_text(client, run.info.run_id, "outputs/stderr.txt")


def test_child_start_run_resumes_the_project_run_so_its_metrics_land_there(project):
    result = cli("run", str(project), "-P", "name=x")
    assert result.returncode == 0, result.stderr
    client = TrackingClient()
    run = only_run(client)  # the child's start_run made no second run
    assert f"child run {run.info.run_id}" in result.stdout
    logged = {k: v for k, v in run.data.metrics.items() if not k.startswith("system/")}
    assert logged == {"acc": 0.9}  # (the runner adds system metrics)
    history = client.get_metric_history(run.info.run_id, "acc")
    assert [m.value for m in history] == [0.75, 0.9]


def test_failing_command_marks_the_run_failed_and_exits_with_its_code(project):
    result = cli("run", str(project), "-e", "fail")
    assert result.returncode == 3
    assert "bad input" in result.stderr
    client = TrackingClient()
    run = only_run(client)
    assert run.info.status == "FAILED"
    assert run.info.end_time is not None
    assert "bad input" in artifact_text(client, run.info.run_id, "outputs/stderr.txt")


def test_bad_parameter_is_an_error_before_any_run_exists(project):
    result = cli("run", str(project), "-P", "name=x", "-P", "alpha=abc", "-P", "n=2.5")
    assert result.returncode == 1
    assert "alpha (float): expected a float, got 'abc'" in result.stderr
    assert "n (int): expected an int, got '2.5'" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(TrackingClient().search_runs(["0"])) == []


def test_missing_required_parameter_is_named(project):
    result = cli("run", str(project))
    assert result.returncode == 1
    assert "missing values for required parameters: name" in result.stderr


def test_shell_and_python_file_entry_points(tmp_path):
    root = write_files(
        tmp_path / "plain",
        {"hello.py": "import sys; print('py', sys.argv[1:])\n", "hi.sh": 'echo "sh $@"\n'},
    )
    result = cli("run", str(root), "-e", "hello.py", "-P", "who=me")
    assert result.returncode == 0, result.stderr
    assert "py ['--who', 'me']" in result.stdout
    result = cli("run", str(root), "-e", "hi")
    assert result.returncode == 0, result.stderr
    assert "sh" in result.stdout


def test_declared_shell_command_gets_quoted_values(project):
    result = cli("run", str(project), "-e", "shell", "-P", "word=a b; echo injected")
    assert result.returncode == 0, result.stderr
    assert "shell says a b; echo injected" in result.stdout
    assert "\ninjected" not in result.stdout


def test_python_api_streams_output_to_a_callback(project):
    seen: list[tuple[str, str]] = []
    result = run_project(
        str(project),
        parameters={"name": "api", "alpha": 0.1},
        output=lambda s, t: seen.append((s, t)),
    )
    assert result.succeeded and result.exit_code == 0
    stdout = "".join(t for s, t in seen if s == "stdout")
    assert "'--alpha', '0.1'" in stdout
    run = TrackingClient().get_run(result.run_id)
    assert run.data.params["alpha"] == "0.1"


def test_ctrl_c_stops_the_child_and_marks_the_run_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    root = write_files(
        tmp_path / "slow",
        {
            "slow.py": f"""
            import os, time
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(120)
            """
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "notebook_tracker.cli", "run", str(root), "-e", "slow.py"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=60, what="child")
        child = int(pid_file.read_text())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "KILLED" in err
    assert not _alive(child)
    assert only_run().info.status == "KILLED"


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z":
            return False  # a zombie has exited; only its parent has not reaped it
        time.sleep(0.1)
    return True


def test_conda_without_a_conda_executable_is_a_clear_error(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("CONDA_EXE", raising=False)
    with pytest.raises(ProjectError) as info:
        run_project(str(project), parameters={"name": "x"}, env_manager="conda")
    assert "needs a conda executable" in info.value.message
    assert "--env-manager virtualenv" in info.value.message
    assert list(TrackingClient().search_runs(["0"])) == []


def test_docker_env_without_a_docker_engine_is_not_supported_here(tmp_path, monkeypatch):
    fake_bin = write_files(
        tmp_path / "bin",
        {"docker": "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n"},
    )
    (fake_bin / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    root = write_files(
        tmp_path / "dockerproj",
        {
            "MLproject": "docker_env: {image: python:3.11-slim}\n"
            "entry_points:\n  main: {command: 'python -c pass'}\n"
        },
    )
    with pytest.raises(ProjectError) as info:
        run_project(str(root))
    message = info.value.message
    assert "docker_env is not supported here" in message
    assert "Cannot connect to the Docker daemon" in message
    assert "--env-manager local" in message
    # ...and the same project runs with the current interpreter when asked to.
    assert run_project(str(root), env_manager="local", output=lambda s, t: None).succeeded


def test_unknown_experiment_id_and_missing_project_are_errors(tmp_path, project):
    result = cli("run", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "not found" in result.stderr
    result = cli("run", str(project), "-P", "name=x", "--experiment-id", "999")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_importing_the_run_command_loads_nothing_heavy():
    heavy = (
        "pandas",
        "matplotlib",
        "sqlalchemy",
        "IPython",
        "numpy",
        "boto3",
        "tornado",
        "nbclient",
    )
    code = (
        "import sys, notebook_tracker.cli.projects, notebook_tracker.projects.runner, "
        "notebook_tracker.projects.rerun\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

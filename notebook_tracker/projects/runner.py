"""Run a project entry point as a tracked run.

Order matters: everything that can be checked (source, spec, entry point, parameters,
environment manager) is checked before the run exists, so a typo never leaves a FAILED run
behind. Then the run is created with its params and tags, the environment is built or reused,
and the command runs as a child process that resumes the same run through its environment.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notebook_tracker import env as env_vars
from notebook_tracker.client import TrackingClient, current_user
from notebook_tracker.entities import Param, RunStatus
from notebook_tracker.errors import ProjectError
from notebook_tracker.projects import environments
from notebook_tracker.projects.params import build_command, parse_param_args, resolve_params
from notebook_tracker.projects.process import run_streaming, terminal_output
from notebook_tracker.projects.sources import ProjectSource, fetch_project
from notebook_tracker.projects.spec import EntryPoint, ProjectSpec, load_project

Output = Callable[[str, str], None]
REAPED_TAG = "notebook_tracker.killed_reason"


@dataclass
class ProjectRun:
    """What a finished project run left behind."""

    run_id: str
    experiment_id: str
    status: str
    exit_code: int | None
    command: str

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.FINISHED


@dataclass
class Job:
    """A checked, ready-to-run piece of work: a shell command or a notebook to execute."""

    directory: Path
    entry: EntryPoint
    command: str | None  # None for a notebook
    notebook_values: dict[str, Any] | None
    logged_params: dict[str, str]
    kernel_cwd: Path | None = None  # a notebook's working directory (default: its folder)


def run_project(
    uri: str,
    entry_point: str | None = None,
    parameters: dict[str, Any] | list[str] | None = None,
    version: str | None = None,
    env_manager: str | None = None,
    experiment_name: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    output: Output | None = None,
    tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    log_system_metrics: bool | None = None,
) -> ProjectRun:
    """Run entry point `entry_point` of the project at `uri` and track it as one run.

    `parameters` is a dict or a list of "key=value" strings. `output(stream, text)` receives
    the child's stdout/stderr as it arrives (default: this process's terminal). With
    `parent_run_id` the project run is created as a child of that run. System metrics are
    logged unless `log_system_metrics=False` or they are disabled globally.
    """
    output = output or terminal_output
    given = _given_params(parameters)
    source = fetch_project(uri, version)
    try:
        spec = load_project(source.directory)
        job = plan_job(spec, entry_point, given)
        manager = environments.check_environment(spec, env_manager)
        client = TrackingClient(tracking_uri)
        if parent_run_id and not (experiment_name or experiment_id):
            exp_id = client.get_run(parent_run_id).info.experiment_id
        else:
            exp_id = resolve_experiment(client, experiment_name, experiment_id)
        run_tags = {**_source_tags(source, spec, job, manager), **(tags or {})}
        return execute_job(
            client,
            exp_id,
            job,
            spec,
            manager,
            run_name,
            run_tags,
            output,
            parent_run_id,
            log_system_metrics=log_system_metrics,
        )
    finally:
        source.cleanup()


def _given_params(parameters: dict[str, Any] | list[str] | None) -> dict[str, str]:
    if parameters is None:
        return {}
    if isinstance(parameters, dict):
        return {str(k): _text(v) for k, v in parameters.items()}
    return parse_param_args(parameters)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def plan_job(spec: ProjectSpec, entry_point: str | None, given: dict[str, str]) -> Job:
    """Pick the entry point and check every parameter; nothing runs yet."""
    entry = spec.entry_point(entry_point)
    params = resolve_params(entry, given, spec.directory)
    if entry.notebook is not None:
        from notebook_tracker.projects.notebooks import notebook_parameters

        values = notebook_parameters(entry.notebook, params.typed, params.extra)
        return Job(spec.directory, entry, None, values, params.logged)
    return Job(spec.directory, entry, build_command(entry, params), None, params.logged)


def resolve_experiment(
    client: TrackingClient, experiment_name: str | None, experiment_id: str | None
) -> str:
    if experiment_name and experiment_id:
        raise ProjectError("Give --experiment-name or --experiment-id, not both.")
    if experiment_id:
        return client.get_experiment(str(experiment_id)).experiment_id
    name = experiment_name or None
    from_env = env_vars.experiment_id()
    if name is None and from_env:
        return from_env
    name = name or env_vars.experiment_name()
    if name is None:
        return "0"
    from notebook_tracker.fluent import get_or_create_experiment

    found = get_or_create_experiment(client, name)  # parallel runs may create it at once
    if found.lifecycle_stage != "active":
        raise ProjectError(
            f"Experiment {name!r} is deleted: restore it or choose another --experiment-name."
        )
    return found.experiment_id


def _source_tags(
    source: ProjectSource, spec: ProjectSpec, job: Job, manager: str
) -> dict[str, str]:
    is_git = source.git_repo_url is not None
    tags = {
        "mlflow.user": current_user(),
        "mlflow.source.name": source.uri if is_git else str(source.directory),
        "mlflow.source.type": "PROJECT",
        "mlflow.project.entryPoint": job.entry.name,
        "mlflow.project.env": manager,
        "mlflow.project.backend": "local",
        "notebook_tracker.project.name": spec.name,
    }
    if job.command is not None:
        tags["notebook_tracker.project.command"] = job.command
    if job.entry.notebook is not None:
        tags["notebook_tracker.project.notebook"] = str(
            job.entry.notebook.relative_to(spec.directory)
        )
    if source.git_commit:
        tags["mlflow.source.git.commit"] = source.git_commit
    if source.git_repo_url:
        tags["mlflow.source.git.repoURL"] = source.git_repo_url
    if source.git_branch:
        tags["mlflow.source.git.branch"] = source.git_branch
    return tags


def execute_job(
    client: TrackingClient,
    experiment_id: str,
    job: Job,
    spec: ProjectSpec,
    manager: str,
    run_name: str | None,
    tags: dict[str, str],
    output: Output,
    parent_run_id: str | None = None,
    log_system_metrics: bool | None = None,
) -> ProjectRun:
    """Create the run, prepare the environment, run the job, and record how it ended."""
    from notebook_tracker import system_metrics

    sampled = system_metrics.should_log(log_system_metrics, default=True)
    if sampled:
        system_metrics.check_settings()
    run = client.create_run(
        experiment_id, tags=tags, run_name=run_name, parent_run_id=parent_run_id
    )
    run_id = run.info.run_id
    described = job.command or f"notebook {job.entry.notebook}"
    status, exit_code = RunStatus.FAILED, None
    tmp = Path(tempfile.mkdtemp(prefix="nt-project-"))
    try:
        if job.logged_params:
            client.log_batch(run_id, params=[Param(k, v) for k, v in job.logged_params.items()])
        extra_packages = ("ipykernel",) if job.entry.notebook is not None else ()
        env = environments.prepare_environment(spec, manager, output, extra_packages)
        output("stderr", f"notebook-tracker: run {run_id}: {described}\n")
        # This process samples the machine while the child runs, whatever the child is.
        with system_metrics.monitor(run_id, client.store, enabled=sampled):
            exit_code = _run_child(client, run_id, experiment_id, job, env, tmp, output, sampled)
        status = RunStatus.FINISHED if exit_code == 0 else RunStatus.FAILED
    except KeyboardInterrupt:
        status = RunStatus.KILLED
        raise
    finally:
        # The status first: once the child is gone, its run must not look abandoned.
        _end(client, run_id, status)
        try:
            _log_outputs(client, run_id, tmp)
        except Exception as error:  # the run's status is right; only its logs are missing
            output("stderr", f"notebook-tracker: could not save the run's outputs: {error}\n")
        shutil.rmtree(tmp, ignore_errors=True)
        code = f" (exit code {exit_code})" if exit_code else ""
        output("stderr", f"notebook-tracker: run {run_id} {status}{code}\n")
    return ProjectRun(run_id, experiment_id, status, exit_code, described)


def _end(client: TrackingClient, run_id: str, status: str) -> None:
    client.set_terminated(run_id, status)
    # A child that resumed the run and exited makes it look abandoned for a moment; if a
    # store reaped it in that moment, the status we just set is the true one.
    if REAPED_TAG in client.get_run(run_id).data.tags:
        client.delete_tag(run_id, REAPED_TAG)


def child_environment(
    client: TrackingClient, run_id: str, experiment_id: str, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The variables that make the child's plain `nt.start_run()` resume this run."""
    out = env_vars.environment() if base is None else dict(base)
    for name in (env_vars.EXPERIMENT_NAME, env_vars.PARENT_RUN_ID):
        out.pop(name, None)
    out[env_vars.RUN_ID] = run_id
    out[env_vars.TRACKING_URI] = client.tracking_uri
    out[env_vars.EXPERIMENT_ID] = experiment_id
    out["PYTHONUNBUFFERED"] = "1"
    return out


def _run_child(
    client: TrackingClient,
    run_id: str,
    experiment_id: str,
    job: Job,
    env: environments.Environment,
    tmp: Path,
    output: Output,
    sampled: bool = False,
) -> int:
    child_env = env.apply(child_environment(client, run_id, experiment_id))
    if sampled:  # one series per run: the child's own start_run must not sample it again
        child_env[env_vars.ENABLE_SYSTEM_METRICS_LOGGING] = "false"
    command: str | list[str]
    if job.entry.notebook is not None:
        from notebook_tracker.projects.notebooks import executor_command

        # Tracked cells of the notebook nest under this run.
        child_env[env_vars.PARENT_RUN_ID] = run_id
        command = executor_command(
            job.entry.notebook,
            tmp / "executed.ipynb",
            env.python,
            job.notebook_values or {},
            job.kernel_cwd,
        )
    elif env.docker is not None:
        command = _docker_argv(env.docker, job, child_env, client.tracking_uri)
    else:
        command = job.command or ""

    def heartbeat() -> None:
        try:
            client.store.heartbeat([run_id])
        except Exception:  # a missed heartbeat is harmless: the next one retries
            pass

    return run_streaming(
        command,
        cwd=job.directory,
        env=child_env,
        output=output,
        log_dir=tmp / "logs",
        tick=heartbeat,
    )


def _log_outputs(client: TrackingClient, run_id: str, tmp: Path) -> None:
    for name in ("stdout.txt", "stderr.txt"):
        path = tmp / "logs" / name
        if path.is_file():
            client.log_artifact(run_id, path, "outputs")
    executed = tmp / "executed.ipynb"
    if executed.is_file():
        client.log_artifact(run_id, executed, "notebook")


def _docker_argv(docker: Any, job: Job, child_env: dict[str, str], tracking_uri: str) -> list[str]:
    """`docker run` for the command, with the project and a local store mounted at their paths."""
    argv = [
        "docker",
        "run",
        "--rm",
        "-v",
        f"{job.directory}:{job.directory}",
        "-w",
        str(job.directory),
    ]
    mounts = set()
    if tracking_uri.startswith("sqlite:///"):
        mounts.add(str(Path(tracking_uri[len("sqlite:///") :]).parent))
    artifact_root = child_env.get(env_vars.ARTIFACT_ROOT)
    if artifact_root and "://" not in artifact_root:
        mounts.add(artifact_root)
    for mount in sorted(mounts):
        argv += ["-v", f"{mount}:{mount}"]
    for volume in docker.volumes:
        argv += ["-v", volume]
    names = [n for n in child_env if n.startswith("NOTEBOOK_TRACKER_")]
    for name in names:
        argv += ["-e", f"{name}={child_env[name]}"]
    for name, value in docker.environment:
        if value is None:
            inherited = env_vars.inherited(name)
            if inherited is not None:
                argv += ["-e", f"{name}={inherited}"]
        else:
            argv += ["-e", f"{name}={value}"]
    argv += [docker.image, "sh", "-c", job.command or ""]
    return argv

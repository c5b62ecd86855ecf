"""`notebook-tracker run` and `notebook-tracker rerun`: thin commands over projects/.

Startup stays light: the projects modules load only when a command runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from notebook_tracker.cli import tracking_uri_option

if TYPE_CHECKING:
    from notebook_tracker.projects.runner import ProjectRun

_params_option = click.option(
    "-P",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter value; repeat for several.",
)


def _finish(result: ProjectRun) -> None:
    if result.status == "FINISHED":
        return
    if result.status == "KILLED":
        sys.exit(130)
    sys.exit(result.exit_code if result.exit_code and result.exit_code > 0 else 1)


@click.command(context_settings={"show_default": True})
@click.argument("uri")
@click.option("-e", "--entry-point", default=None, help="Entry point name or file [default: main].")
@_params_option
@click.option(
    "--env-manager",
    type=click.Choice(["local", "virtualenv", "conda", "docker"]),
    default=None,
    help="Where the command runs [default: what the project declares, else local].",
)
@click.option("-v", "--version", default=None, help="Git branch, tag or commit to run.")
@click.option("--experiment-name", default=None, help="Experiment to log to (created if new).")
@click.option("--experiment-id", default=None, help="Experiment id to log to.")
@click.option("--run-name", default=None, help="Name of the run.")
@click.option(
    "--system-metrics/--no-system-metrics",
    default=None,
    show_default=False,
    help="Log CPU, memory, disk, network and GPU use as system/... metrics [default: on, "
    "unless NOTEBOOK_TRACKER_ENABLE_SYSTEM_METRICS_LOGGING=false].",
)
@tracking_uri_option
def run(
    uri: str,
    entry_point: str | None,
    params: tuple[str, ...],
    env_manager: str | None,
    version: str | None,
    experiment_name: str | None,
    experiment_id: str | None,
    run_name: str | None,
    system_metrics: bool | None,
    tracking_uri: str | None,
) -> None:
    """Run a project (a folder, a git repository, or URI#subdir) as a tracked run.

    Its MLproject file declares entry points, parameters and environment; without one, any
    .py, .sh or .ipynb file is an entry point by name.
    """
    from notebook_tracker.projects.runner import run_project

    try:
        result = run_project(
            uri,
            entry_point=entry_point,
            parameters=list(params),
            version=version,
            env_manager=env_manager,
            experiment_name=experiment_name,
            experiment_id=experiment_id,
            run_name=run_name,
            tracking_uri=tracking_uri,
            log_system_metrics=system_metrics,
        )
    except KeyboardInterrupt:
        click.echo("notebook-tracker: interrupted; the run is marked KILLED.", err=True)
        sys.exit(130)
    _finish(result)


@click.command()
@click.argument("run_id")
@_params_option
@click.option("--run-name", default=None, help="Name of the new run.")
@tracking_uri_option
def rerun(
    run_id: str, params: tuple[str, ...], run_name: str | None, tracking_uri: str | None
) -> None:
    """Re-execute, headless, the code that produced a %%track_run run, as a new run.

    -P overrides a value the code assigns at top level (e.g. -P lr=0.01).
    """
    from notebook_tracker.projects.rerun import rerun as rerun_run

    try:
        result = rerun_run(run_id, list(params), tracking_uri=tracking_uri, run_name=run_name)
    except KeyboardInterrupt:
        click.echo("notebook-tracker: interrupted; the run is marked KILLED.", err=True)
        sys.exit(130)
    _finish(result)

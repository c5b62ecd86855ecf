"""`notebook-tracker sweep PROJECT -e ENTRY --space ... --trials N`: thin over sweeps/."""

from __future__ import annotations

import sys

import click

from notebook_tracker.cli import tracking_uri_option


@click.command(context_settings={"show_default": True})
@click.argument("project")
@click.option("-e", "--entry-point", default=None, help="Entry point name or file [default: main].")
@click.option(
    "--space",
    "-s",
    required=True,
    help='Search space, e.g. "lr=loguniform(1e-4,1e-1) depth=int(2,8) opt=choice(adam,sgd)".',
)
@click.option("--trials", "-n", type=int, default=None, help="Trials [default: 10; grid: all].")
@click.option("--parallel", "-j", type=int, default=1, help="Trials at once.")
@click.option("--method", type=click.Choice(["grid", "random", "tpe"]), default="tpe")
@click.option("--metric", "-m", default=None, help="Metric to optimise [default: the only one].")
@click.option("--mode", type=click.Choice(["min", "max"]), default="min")
@click.option("--name", default=None, help="Sweep name; the same name again continues it.")
@click.option("--resume", is_flag=True, help="Continue the sweep NAME (an error if there is none).")
@click.option("--experiment-name", default=None, help="Experiment to log to (created if new).")
@click.option("-v", "--version", default=None, help="Git branch, tag or commit to run.")
@click.option(
    "--env-manager", type=click.Choice(["local", "virtualenv", "conda", "docker"]), default=None
)
@click.option("--seed", type=int, default=None, help="Seed of the sampler.")
@tracking_uri_option
def sweep(
    project: str,
    entry_point: str | None,
    space: str,
    trials: int | None,
    parallel: int,
    method: str,
    metric: str | None,
    mode: str,
    name: str | None,
    resume: bool,
    experiment_name: str | None,
    version: str | None,
    env_manager: str | None,
    seed: int | None,
    tracking_uri: str | None,
) -> None:
    """Run an MLproject entry point over a search space; each trial is a child run."""
    from notebook_tracker import fluent
    from notebook_tracker.sweeps.api import sweep_project

    if tracking_uri:
        fluent.set_tracking_uri(tracking_uri)
    result = sweep_project(
        project,
        entry_point,
        space=space,
        name=name,
        trials=trials,
        parallel=parallel,
        method=method,
        metric=metric,
        mode=mode,
        experiment=experiment_name,
        resume=resume,
        seed=seed,
        version=version,
        env_manager=env_manager,
    )
    if result.best is None:
        click.echo(f"sweep {result.name} ({result.run_id}): no trial completed", err=True)
        sys.exit(1)
    click.echo(
        f"sweep {result.name} ({result.run_id}): best trial {result.best.number} "
        f"{result.metric}={result.best.value:.6g} {result.best_params}"
    )

"""The `notebook-tracker` command. Subcommands live in their own modules and load on demand."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

# name -> "module:attribute". A subcommand whose module is absent is simply not offered.
SUBCOMMANDS = {
    "experiments": "notebook_tracker.cli.tracking:experiments",
    "runs": "notebook_tracker.cli.tracking:runs",
    "gc": "notebook_tracker.cli.tracking:gc",
    "server": "notebook_tracker.cli.server:server",
    "models": "notebook_tracker.cli.models:models",
    "run": "notebook_tracker.cli.projects:run",
    "rerun": "notebook_tracker.cli.projects:rerun",
    "sweep": "notebook_tracker.cli.sweep:sweep",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    def _load(self, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None
            raise
        return getattr(module, attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors: click prints them as one line with the usage
        except Exception as error:
            if ctx.params.get("debug"):
                raise
            from notebook_tracker.cli.errors import one_line

            click.echo(f"Error: {one_line(error)}", err=True)
            sys.exit(1)


@click.group(cls=LazyGroup)
@click.version_option(package_name="notebook-tracker")
@click.option(
    "--debug",
    is_flag=True,
    envvar="NOTEBOOK_TRACKER_DEBUG",
    help="Show the full traceback of a failure instead of one line ($NOTEBOOK_TRACKER_DEBUG=1).",
)
def main(debug: bool) -> None:
    """notebook-tracker: experiments, runs, projects and models, from Jupyter or the shell."""


tracking_uri_option = click.option(
    "--tracking-uri",
    envvar="NOTEBOOK_TRACKER_URI",
    default=None,
    help="Store to use: sqlite:///path.db, postgresql://..., http(s)://server or a folder "
    "(the store's, or the one holding .notebook_tracker/). Default: $NOTEBOOK_TRACKER_URI, else "
    "the nearest .notebook_tracker/ in the current directory or above.",
)

"""`%run_project` and `%rerun`: the projects commands inside a notebook, with live output.

Thin: parse the line, call notebook_tracker.projects, print what the child prints as it
prints it. Run inside a tracked cell, a project run becomes a child of that cell's run.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise ValueError(message or self.format_help())


def _run_parser() -> _Parser:
    p = _Parser(prog="%run_project", description="Run a project as a tracked run.")
    p.add_argument("uri", help="a folder, a git URL, or URI#subdirectory")
    p.add_argument("-e", "--entry-point", default=None, help="entry point name or file")
    p.add_argument(
        "-P",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter value; repeat for several",
    )
    p.add_argument("--env-manager", choices=["local", "virtualenv", "conda", "docker"])
    p.add_argument("-v", "--version", default=None, help="git branch, tag or commit")
    p.add_argument("--experiment-name", default=None)
    p.add_argument("--experiment-id", default=None)
    p.add_argument("--run-name", default=None)
    p.add_argument("--tracking-uri", default=None)
    return p


def _rerun_parser() -> _Parser:
    p = _Parser(prog="%rerun", description="Rerun a %%track_run run headless, as a new run.")
    p.add_argument("run_id")
    p.add_argument(
        "-P",
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a value the code assigns",
    )
    p.add_argument("--run-name", default=None)
    p.add_argument("--tracking-uri", default=None)
    return p


_RUN_ID = re.compile(r"^[0-9a-fA-F]{32}$")


def _live(stream: str, text: str) -> None:
    # ipykernel's streams forward each write to the cell's output as it happens.
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


def _active_run_id() -> str | None:
    fluent = sys.modules.get("notebook_tracker.fluent")
    run = fluent.active_run() if fluent is not None else None
    return run.info.run_id if run is not None else None


@magics_class
class ProjectMagics(Magics):
    @line_magic
    def run_project(self, line: str) -> Any:
        """%run_project URI [-e ENTRY] [-P k=v ...] [--env-manager M] [-v VERSION]
        [--experiment-name NAME] [--run-name NAME]: run a project as a tracked run."""
        from notebook_tracker.errors import TrackerError
        from notebook_tracker.projects.runner import run_project

        try:
            args = _run_parser().parse_args(shlex.split(line))
        except ValueError as error:
            print(error, file=sys.stderr)
            return None
        try:
            return run_project(
                args.uri,
                entry_point=args.entry_point,
                parameters=args.params,
                version=args.version,
                env_manager=args.env_manager,
                experiment_name=args.experiment_name,
                experiment_id=args.experiment_id,
                run_name=args.run_name,
                tracking_uri=args.tracking_uri,
                output=_live,
                parent_run_id=_active_run_id(),
            )
        except TrackerError as error:
            print(f"Error: {error.message}", file=sys.stderr)
        except KeyboardInterrupt:
            print("Interrupted: the project run is marked KILLED.", file=sys.stderr)
        return None

    @line_magic
    def rerun(self, line: str) -> Any:
        """%rerun RUN_ID [-P name=value ...]: re-execute a %%track_run run headless.

        Without a run id (`%rerun`, `%rerun 3`, `%rerun -l 2`) this is IPython's own %rerun.
        """
        from notebook_tracker.errors import TrackerError
        from notebook_tracker.projects.rerun import rerun

        first = line.split(None, 1)[0] if line.strip() else ""
        if not _RUN_ID.match(first):
            from IPython.core.magics.history import HistoryMagics

            return HistoryMagics(shell=self.shell).rerun(line)
        try:
            args = _rerun_parser().parse_args(shlex.split(line))
        except ValueError as error:
            print(error, file=sys.stderr)
            return None
        try:
            return rerun(
                args.run_id,
                args.params,
                tracking_uri=args.tracking_uri,
                run_name=args.run_name,
                output=_live,
            )
        except TrackerError as error:
            print(f"Error: {error.message}", file=sys.stderr)
        except KeyboardInterrupt:
            print("Interrupted: the rerun is marked KILLED.", file=sys.stderr)
        return None

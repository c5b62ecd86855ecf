"""`%%sweep`: the cell body is a trial, run over a search space (thin: sweeps/ does the work)."""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class

from notebook_tracker.cells.arguments import MagicArgumentError, _Parser, _split
from notebook_tracker.errors import TrackerError


def _parser() -> _Parser:
    p = _Parser(
        prog="%%sweep",
        usage=(
            '%%sweep [NAME] --space "lr=loguniform(1e-4,1e-1) opt=choice(adam,sgd)" [--trials N] '
            "[--parallel K] [--method grid|random|tpe] [--metric NAME] [--mode min|max] "
            "[--prune [median|percentile|halving|hyperband]] [--on dask://HOST:PORT] "
            "[-e EXPERIMENT] [--resume] [--seed S]"
        ),
        description=(
            "Run the cell as the trial of a sweep: the space's names are set before the body "
            "runs, its auto-logged metric is the objective. Same NAME again continues the "
            "sweep (see docs/sweeps.md)."
        ),
        add_help=False,
    )
    p.add_argument("name", nargs="?")
    p.add_argument("--space", "-s", required=True)
    p.add_argument("--trials", "-n", type=int)
    p.add_argument("--parallel", "-j", type=int, default=1)
    p.add_argument("--method", default="tpe", choices=["grid", "random", "tpe"])
    p.add_argument("--metric", "-m")
    p.add_argument("--mode", default="min", choices=["min", "max"])
    p.add_argument("--prune", nargs="?", const=True, default=False)
    p.add_argument("--on")
    p.add_argument("-e", "--experiment")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int)
    p.add_argument("--no-system-metrics", dest="system_metrics", action="store_false", default=None)
    return p


SWEEP_PARSER = _parser()


def parse_sweep_line(line: str) -> dict[str, Any]:
    args = SWEEP_PARSER.parse_args(_split(line))
    return vars(args)


@magics_class
class SweepMagics(Magics):
    """`%%sweep`."""

    @cell_magic
    def sweep(self, line: str, cell: str) -> None:
        from notebook_tracker.sweeps.api import sweep_cell

        try:
            options = parse_sweep_line(line)
        except MagicArgumentError as error:
            raise UsageError(str(error)) from None
        shell: Any = self.shell
        code = shell.transform_cell(cell)
        try:
            result, skipped = sweep_cell(code, shell.user_ns, **options)
        except KeyboardInterrupt:
            print(
                "%%sweep interrupted: unfinished trials are marked KILLED. Run the cell again "
                "(same NAME, or --resume) to continue.",
                file=sys.stderr,
            )
            raise
        except TrackerError as error:
            raise UsageError(f"%%sweep: {error}") from None
        if skipped:
            print(
                "%%sweep: not shipped to the trials (they cannot be pickled): "
                + ", ".join(skipped),
                file=sys.stderr,
            )
        if result.best is None:
            failed = [r for r in result.rows if r.error]
            why = f" (trial {failed[0].number}: {failed[0].error})" if failed else ""
            print(f"%%sweep {result.name}: no trial completed{why}", file=sys.stderr)
        else:
            print(
                f"sweep {result.name}: best trial {result.best.number}, "
                f"{result.metric}={result.best.value:.6g}, params {result.best_params}"
            )

    sweep.__doc__ = SWEEP_PARSER.format_help()

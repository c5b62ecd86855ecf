"""The tracking magics: thin wrappers that parse a line and call the modules that do the work."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from notebook_tracker.cells.arguments import (
    TRACK_PARSER,
    MagicArgumentError,
    parse_runs_line,
    parse_track_line,
)
from notebook_tracker.errors import TrackerError


def _usage(error: Exception) -> UsageError:
    return UsageError(str(error))


@magics_class
class TrackingMagics(Magics):
    """`%%track_run`, `%%run_experiment`, `%runs`, `%compare_runs`, `%tracker_uri`."""

    recorder: Any = None  # set by `notebook_tracker.magics.load`

    @cell_magic
    def track_run(self, line: str, cell: str) -> None:
        from notebook_tracker.magics.tracked_cell import TrackedCell

        try:
            options = parse_track_line(line)
        except MagicArgumentError as error:
            raise _usage(error) from None
        # The cell's own errors (TrackerError included) pass through unchanged.
        TrackedCell(self.shell, options, cell, self.recorder).run()

    track_run.__doc__ = TRACK_PARSER.format_help()

    @cell_magic
    def run_experiment(self, line: str, cell: str) -> None:
        self.track_run(line, cell)

    run_experiment.__doc__ = "Alias of %%track_run.\n\n" + TRACK_PARSER.format_help()

    @line_magic
    def runs(self, line: str = "") -> Any:
        """%runs [FILTER] [-e EXPERIMENT] [-n N]: runs as a DataFrame, newest first.

        FILTER uses the search grammar, e.g. %runs metrics.acc > 0.9 and params.opt = 'adam'
        """
        from notebook_tracker.magics.listing import runs_frame, select_runs

        try:
            return runs_frame(select_runs(parse_runs_line(line, "%runs")))
        except (MagicArgumentError, TrackerError) as error:
            raise _usage(error) from None

    @line_magic
    def compare_runs(self, line: str = "") -> Any:
        """%compare_runs [RUN_IDS | FILTER | --last N] [-e EXPERIMENT]: compare runs inline.

        Without arguments, compares the 5 newest runs.
        """
        from notebook_tracker.magics.listing import select_runs

        try:
            query = parse_runs_line(line, "%compare_runs", last_default=5)
            runs = select_runs(query)
        except (MagicArgumentError, TrackerError) as error:
            raise _usage(error) from None
        if not runs:
            raise UsageError("No runs match: nothing to compare.")
        from notebook_tracker.widgets.compare import CompareRuns

        widget = CompareRuns(runs)
        widget.show()

    @line_magic
    def tracker_uri(self, line: str = "") -> str | None:
        """%tracker_uri [URI]: show the tracking store, or switch to URI (a folder, a database
        URI or an http(s) server)."""
        from notebook_tracker import fluent

        uri = line.strip().strip("'\"")
        if not uri:
            return fluent.get_tracking_uri()
        fluent.set_tracking_uri(uri)
        print(f"Tracking to {fluent.get_tracking_uri()}")
        return None

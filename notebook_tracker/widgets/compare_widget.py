"""`%compare_runs`'s interactive charts: an anywidget drawing the sidebar's uPlot charts.

The front end is `js/compare.js`, bundled from `labextension/src/compare_widget/` when the
package is built (it is generated, not in git). Without it, or without anywidget, callers fall
back to the static PNG charts: `charts_available()` says which.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from notebook_tracker.widgets.chart_payload import chart_payload
from notebook_tracker.widgets.compare_data import ComparisonData

BUNDLE_DIR = Path(__file__).parent / "js"
BUNDLE = BUNDLE_DIR / "compare.js"
STYLES = BUNDLE_DIR / "compare.css"
VIEWS = ("all", "metrics", "scatter")


def charts_available() -> str | None:
    """None when the interactive charts can be drawn, else why not (one line for the user)."""
    if not BUNDLE.is_file():
        return (
            f"Interactive charts are not built ({BUNDLE.name} is missing; reinstall the package "
            "with Node.js available): showing static charts."
        )
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return "Interactive charts need the anywidget package: showing static charts."
    return None


def charts_widget(data: ComparisonData, view: str = "all", max_points: int | None = None) -> Any:
    """A widget with one chart per metric (`metrics`), a metric-against-param scatter
    (`scatter`), or both (`all`)."""
    if view not in VIEWS:
        raise ValueError(f"Unknown chart view {view!r}: use one of {', '.join(VIEWS)}.")
    payload = chart_payload(data, max_points) if view != "scatter" else _runs_only(data)
    return _widget_class()(runs=payload["runs"], histories=payload["histories"], view=view)


@functools.cache
def _widget_class() -> type:
    # Built on first use: anywidget is imported only when a comparison is drawn.
    import anywidget
    import traitlets

    class CompareCharts(anywidget.AnyWidget):
        _esm = BUNDLE
        _css = STYLES
        runs: traitlets.List[Any] = traitlets.List().tag(sync=True)
        histories = traitlets.Dict().tag(sync=True)
        view = traitlets.Unicode("all").tag(sync=True)

    return CompareCharts


def _runs_only(data: ComparisonData) -> dict[str, Any]:
    from notebook_tracker.widgets.chart_payload import run_record

    return {"runs": [run_record(r) for r in data.runs], "histories": {}}

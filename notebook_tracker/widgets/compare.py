"""`%compare_runs`: runs side by side in one ipywidgets box, no iframe, no extra port.

Tabs: interactive charts (the sidebar's uPlot charts in an anywidget: one per metric, stepped
metrics as curves and single-value metrics as dots per run, then a metric-against-param
scatter; hover, zoom and legend), the run table (differing params highlighted), parallel
coordinates of params against a metric, and a diff of two runs' cell code or lineage. Without
the chart bundle the curves and the scatter are matplotlib PNGs in their own tabs instead,
with a one-line note. The mime
bundle also carries the table and the curves as HTML and a crisp PNG (rendered at twice its
display width) for renderers without widgets (nbconvert, GitHub).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from notebook_tracker.entities import Run
from notebook_tracker.widgets import plots
from notebook_tracker.widgets.compare_data import ComparisonData
from notebook_tracker.widgets.compare_widget import charts_available, charts_widget
from notebook_tracker.widgets.diff import diff_html
from notebook_tracker.widgets.runs_table import runs_table_html
from notebook_tracker.widgets.static import data_uri, png_display_width

TABS = ("Runs", "Curves", "Parallel", "Scatter", "Diff")
INTERACTIVE_TABS = ("Charts", "Runs", "Parallel", "Diff")
DIFF_FILES = {"cell code": "cell/source.py", "lineage": "lineage/replay.py"}


def _default_metric(data: ComparisonData, stepped_only: bool = False) -> str | None:
    """The metric most runs have; for curves, the first such with a history of several points."""
    if not data.metric_keys:
        return None
    counts = {k: sum(k in r.data.metrics for r in data.runs) for k in data.metric_keys}
    ranked = sorted(data.metric_keys, key=lambda k: -counts[k])
    if stepped_only:
        for key in ranked[:10]:
            run = next(r for r in data.runs if key in r.data.metrics)
            if len(data.history(run.info.run_id, key)) > 1:
                return key
    return ranked[0]


class CompareRuns(w.VBox):
    def __init__(self, runs: list[Run], client: Any = None) -> None:
        self.data = ComparisonData(runs, client)
        data = self.data
        metric = _default_metric(data)
        metrics = data.metric_keys
        self.table = w.HTML(runs_table_html(data))
        # Curves
        self.curve_metric = w.Dropdown(
            options=metrics, value=_default_metric(data, stepped_only=True), description="metric"
        )
        self.curve_x = w.ToggleButtons(options=["step", "time"], value="step", description="x")
        self.curve_image = w.Image(format="png")
        # Parallel coordinates
        self.parallel_metric = w.Dropdown(options=metrics, value=metric, description="metric")
        self.parallel_image = w.Image(format="png")
        # Scatter
        param_options = data.differing_params + [
            k for k in data.param_keys if k not in data.differing_params
        ]
        self.scatter_param = w.Dropdown(
            options=param_options,
            value=param_options[0] if param_options else None,
            description="param",
        )
        self.scatter_metric = w.Dropdown(options=metrics, value=metric, description="metric")
        self.scatter_image = w.Image(format="png")
        # Diff
        labels = [(data.label(r), r.info.run_id) for r in runs]
        self.diff_a = w.Dropdown(options=labels, value=labels[0][1], description="run A")
        self.diff_b = w.Dropdown(
            options=labels, value=labels[min(1, len(labels) - 1)][1], description="run B"
        )
        self.diff_what = w.ToggleButtons(options=list(DIFF_FILES), value="cell code")
        self.diff_view = w.HTML()
        parallel = w.VBox([self.parallel_metric, self.parallel_image])
        diff = w.VBox([w.HBox([self.diff_a, self.diff_b]), self.diff_what, self.diff_view])
        self.fallback_note = charts_available()
        self.charts: Any = None
        if self.fallback_note is None:
            # One widget for every chart: its front end's code is saved once with the notebook.
            self.charts = charts_widget(data, "all")
            self.tab_titles: tuple[str, ...] = INTERACTIVE_TABS
            children = [self.charts, self.table, parallel, diff]
        else:
            note = w.HTML(f'<span style="color: #777">{self.fallback_note}</span>')
            curves = w.VBox([note, w.HBox([self.curve_metric, self.curve_x]), self.curve_image])
            pickers = w.HBox([self.scatter_param, self.scatter_metric])
            scatter = w.VBox([pickers, self.scatter_image])
            self.tab_titles = TABS
            children = [self.table, curves, parallel, scatter, diff]
        self.tabs = w.Tab(children=children)
        for i, title in enumerate(self.tab_titles):
            self.tabs.set_title(i, title)
        header = w.HTML(f"{_counted(len(runs), 'run')} &middot; {_differing(data)}")
        super().__init__([header, self.tabs])
        self._drawn: set[str] = set()
        self.curve_metric.observe(lambda _: self.draw_curves(), names="value")
        self.curve_x.observe(lambda _: self.draw_curves(), names="value")
        self.parallel_metric.observe(lambda _: self.draw_parallel(), names="value")
        self.scatter_param.observe(lambda _: self.draw_scatter(), names="value")
        self.scatter_metric.observe(lambda _: self.draw_scatter(), names="value")
        for control in (self.diff_a, self.diff_b, self.diff_what):
            control.observe(lambda _: self.draw_diff(), names="value")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.draw_curves()
        self.draw_diff()

    # -- drawing -------------------------------------------------------------------------------
    def draw_curves(self) -> None:
        _show_png(
            self.curve_image,
            plots.curves_png(self.data, self.curve_metric.value, self.curve_x.value),
        )
        self._drawn.add("Curves")

    def draw_parallel(self) -> None:
        _show_png(self.parallel_image, plots.parallel_png(self.data, self.parallel_metric.value))
        self._drawn.add("Parallel")

    def draw_scatter(self) -> None:
        _show_png(
            self.scatter_image,
            plots.scatter_png(self.data, self.scatter_param.value, self.scatter_metric.value),
        )
        self._drawn.add("Scatter")

    def draw_diff(self) -> None:
        path = DIFF_FILES[self.diff_what.value]
        a, b = self.diff_a.value, self.diff_b.value
        self.diff_view.value = diff_html(
            self.data.text_artifact(a, path),
            self.data.text_artifact(b, path),
            f"{self.data.label(self.data.run(a))}/{path}",
            f"{self.data.label(self.data.run(b))}/{path}",
        )

    def _on_tab(self, change: dict[str, Any]) -> None:
        title = self.tab_titles[change["new"]] if change["new"] is not None else None
        if title == "Parallel" and title not in self._drawn:
            self.draw_parallel()
        elif title == "Scatter" and title not in self._drawn:
            self.draw_scatter()

    # -- display -------------------------------------------------------------------------------
    def static_html(self) -> str:
        parts = [runs_table_html(self.data)]
        if self.curve_image.value:
            png = bytes(self.curve_image.value)
            parts.append(
                f'<img src="{data_uri(png)}" width="{png_display_width(png)}" '
                f'alt="{self.curve_metric.value} by {self.curve_x.value}"/>'
            )
        singles = plots.single_value_metrics(self.data)
        values = plots.values_png(self.data, singles)
        if values is not None:
            parts.append(
                f'<br/><img src="{data_uri(values)}" width="{png_display_width(values)}" '
                f'alt="{", ".join(singles)} per run"/>'
            )
        return "".join(parts)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if not isinstance(bundle, dict):
            return bundle
        import base64

        bundle["text/html"] = self.static_html()
        if self.curve_image.value:
            bundle["image/png"] = base64.b64encode(self.curve_image.value).decode("ascii")
        bundle["text/plain"] = f"CompareRuns({len(self.data.runs)} runs)"
        if self.curve_image.value:
            # Shown at its display width, not stretched to the output area (it is 2x pixels).
            width = png_display_width(bytes(self.curve_image.value))
            return bundle, {"image/png": {"width": width}}
        return bundle

    def show(self) -> None:
        from IPython.display import display

        display(self)


def _show_png(image: w.Image, png: bytes) -> None:
    """A PNG in an Image widget at its display width: crisp, not stretched to the output."""
    image.value = png
    image.width = str(png_display_width(png))


def _counted(n: int, noun: str) -> str:
    return f"<b>{n} {noun}{'' if n == 1 else 's'}</b>"


def _differing(data: ComparisonData) -> str:
    """How many params differ between the runs, in words that agree with the number."""
    n = len(data.differing_params)
    if n == 0:
        return "no params differ"
    return ("1 param differs" if n == 1 else f"{n} params differ") + " (highlighted)"

"""The comparison's plots as PNG bytes: metric curves, parallel coordinates, param scatter."""

from __future__ import annotations

from notebook_tracker.widgets.chart_payload import compact_history
from notebook_tracker.widgets.compare_data import ComparisonData
from notebook_tracker.widgets.static import HIDPI, new_figure
from notebook_tracker.widgets.static import figure_png as _figure_png

MAX_CURVE_POINTS = 1000  # about one point per pixel column of the PNG
MAX_LEGEND = 12


def figure_png(fig: object) -> bytes:
    return _figure_png(fig, dpi=100 * HIDPI)


def _empty(message: str) -> bytes:
    fig = new_figure(6.0, 1.0)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#777")
    return figure_png(fig)


def curves_png(data: ComparisonData, metric: str | None, x: str = "step") -> bytes:
    """Every run's history of `metric`, overlaid."""
    if not metric:
        return _empty("No metrics to plot.")
    fig = new_figure()
    ax = fig.add_subplot(1, 1, 1)
    plotted = 0
    for run in data.runs:
        if metric not in run.data.metrics:
            continue
        hist = data.history(run.info.run_id, metric)
        if not len(hist):
            continue
        steps, stamps, ys, _ = compact_history(
            hist.steps, hist.timestamps, hist.values, MAX_CURVE_POINTS
        )
        if x == "time":
            start = run.info.start_time or stamps[0]
            xs = [(t - start) / 1000 for t in stamps]
        else:
            xs = steps
        ys = [float("nan") if v is None else v for v in ys]
        marker = "o" if len(ys) == 1 else None
        ax.plot(xs, ys, label=data.label(run), linewidth=1.3, marker=marker)
        plotted += 1
    if not plotted:
        return _empty(f"No run has the metric {metric!r}.")
    ax.set_xlabel("step" if x == "step" else "seconds since the run started")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if plotted <= MAX_LEGEND:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.set_title(f"{plotted} runs", fontsize=9)
    return figure_png(fig)


MAX_VALUE_PANELS = 6
MAX_BAR_RUNS = 20  # a taller static picture costs more to draw than it tells


def single_value_metrics(data: ComparisonData) -> list[str]:
    """Metrics logged once per run (auto-logged results): bars, not curves."""
    return [
        key
        for key in data.metric_keys
        if all(
            len(data.history(r.info.run_id, key)) <= 1 for r in data.runs if key in r.data.metrics
        )
    ]


def values_png(data: ComparisonData, metrics: list[str]) -> bytes | None:
    """One horizontal bar per run for each single-value metric, its value written at the end."""
    metrics = metrics[:MAX_VALUE_PANELS]
    if not metrics:
        return None
    shown = data.runs[:MAX_BAR_RUNS]
    labels = [data.label(r).split(" (")[0][:20] for r in shown]
    rows = len(shown)
    fig = new_figure(6.0, 0.5 + len(metrics) * (0.35 + 0.22 * rows))
    axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
    colors = [f"C{i % 10}" for i in range(rows)]
    for ax, key in zip(axes, metrics, strict=False):
        values = data.metric_values(key)[:rows]
        ys = list(range(rows))
        ax.barh(ys, [v or 0.0 for v in values], color=colors, height=0.6)
        for y, v in zip(ys, values, strict=False):
            text = "no value" if v is None else f"{v:.4g}"
            ax.annotate(
                text,
                (v or 0.0, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.set_yticks(ys, labels, fontsize=7)
        ax.invert_yaxis()
        more = f" (first {rows} of {len(data.runs)} runs)" if len(data.runs) > rows else ""
        ax.set_title(key + more, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
    fig.tight_layout()
    return figure_png(fig)


def parallel_png(
    data: ComparisonData, metric: str | None, params: list[str] | None = None
) -> bytes:
    """One vertical axis per param and one for `metric`; each run a line, colored by metric."""
    keys = params or data.differing_params or data.param_keys
    keys = keys[:10]
    if not keys or not metric:
        return _empty("Parallel coordinates need runs with params and a metric.")
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    axes_values = []
    labels: list[list[str] | None] = []
    for key in keys:
        values, cats = data.param_axis(key)
        axes_values.append(values)
        labels.append(cats)
    metric_vals = data.metric_values(metric)
    axes_values.append(metric_vals)
    labels.append(None)
    names = [*keys, metric]
    scaled = []
    bounds = []
    for values in axes_values:
        present = [v for v in values if v is not None]
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        span = (hi - lo) or 1.0
        bounds.append((lo, hi))
        scaled.append([None if v is None else (v - lo) / span for v in values])
    present_metric = [v for v in metric_vals if v is not None]
    norm = Normalize(min(present_metric), max(present_metric)) if present_metric else None
    cmap = colormaps["viridis"]
    fig = new_figure(max(6.0, 1.2 * len(names)), 3.4)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(names)))
    for i, run in enumerate(data.runs):
        ys = [col[i] for col in scaled]
        colored_by = metric_vals[i]
        color = cmap(norm(colored_by)) if norm and colored_by is not None else "#bbbbbb"
        pts = [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None]
        if pts:
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                color=color,
                linewidth=1.5,
                marker="o",
                markersize=3,
                label=data.label(run),
            )
    for x, (lo, hi), cats in zip(xs, bounds, labels, strict=False):
        ax.axvline(x, color="#444", linewidth=0.8)
        if cats:
            for j, cat in enumerate(cats):
                y = j / ((len(cats) - 1) or 1)
                ax.text(x + 0.03, y, cat[:14], fontsize=7, va="center")
        else:
            ax.text(x + 0.03, 0, f"{lo:.3g}", fontsize=7, va="bottom")
            ax.text(x + 0.03, 1, f"{hi:.3g}", fontsize=7, va="top")
    ax.set_xticks(xs, [n[:18] for n in names], fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"params against {metric}", fontsize=9)
    return figure_png(fig)


def scatter_png(data: ComparisonData, param: str | None, metric: str | None) -> bytes:
    """One point per run: `param` on x (categories spread evenly), `metric` on y."""
    if not param or not metric:
        return _empty("A scatter needs a param and a metric.")
    xs, cats = data.param_axis(param)
    ys = data.metric_values(metric)
    pts = [
        (x, y, data.label(r))
        for x, y, r in zip(xs, ys, data.runs, strict=False)
        if x is not None and y is not None
    ]
    if not pts:
        return _empty(f"No run has both {param!r} and {metric!r}.")
    fig = new_figure(5.5, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=28)
    for x, y, label in pts:
        ax.annotate(
            label.split(" (")[0][:16], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    if cats:
        ax.set_xticks(range(len(cats)), [c[:14] for c in cats], fontsize=8)
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    return figure_png(fig)

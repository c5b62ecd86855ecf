"""The run card as HTML: the same markup serves the live widget and the static fallback."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from notebook_tracker.widgets.sparkline import sparkline_svg

STATUS_COLORS = {
    "RUNNING": "#1f77b4",
    "FINISHED": "#2ca02c",
    "FAILED": "#d62728",
    "KILLED": "#ff7f0e",
    "SCHEDULED": "#7f7f7f",
}
MAX_PARAMS_SHOWN = 24
MAX_METRICS_SHOWN = 24


@dataclass
class Series:
    """A metric's points for a sparkline: x is the step, or the time when steps do not move."""

    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: int, timestamp: float, value: float) -> None:
        self.steps.append(step)
        self.times.append(timestamp)
        self.values.append(value)

    def xs(self) -> list[float]:
        if len(set(self.steps)) > 1:
            return [float(s) for s in self.steps]
        return self.times


@dataclass
class CardState:
    run_id: str
    run_name: str
    experiment_id: str = "0"
    status: str = "RUNNING"
    start_ms: float = field(default_factory=lambda: time.time() * 1000)
    end_ms: float | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    parent_run_id: str | None = None
    hidden_state: bool = False
    hidden_reasons: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)  # e.g. "2 figures", "stdout"

    @property
    def duration_s(self) -> float:
        end = self.end_ms if self.end_ms is not None else time.time() * 1000
        return max(0.0, (end - self.start_ms) / 1000)


def run_link(run_id: str) -> str:
    """The fragment the sidebar listens for to open a run."""
    return f"#notebook-tracker:run={run_id}"


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_value(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.5g}"


_CELL = "padding:1px 8px 1px 0;text-align:left;vertical-align:middle"


def card_html(state: CardState, sparkline_images: dict[str, str] | None = None) -> str:
    """Markup of the card. `sparkline_images` (key -> data URI) replaces the SVG sparklines,
    for renderers that strip SVG."""
    e = html.escape
    color = STATUS_COLORS.get(state.status, "#7f7f7f")
    head = [
        f'<b class="nt-run-name">{e(state.run_name)}</b>',
        f'<span class="nt-status" style="background:{color};color:white;border-radius:3px;'
        f'padding:0 5px;font-size:11px">{e(state.status)}</span>',
        f'<span class="nt-duration">{format_duration(state.duration_s)}</span>',
        f'<a class="nt-run-link" href="{run_link(state.run_id)}" '
        f'title="run {e(state.run_id)}">open in sidebar</a>',
    ]
    if state.parent_run_id:
        head.append(
            f'<span class="nt-parent">child of <a href="{run_link(state.parent_run_id)}">'
            f"{e(state.parent_run_id[:8])}</a></span>"
        )
    if state.hidden_state:
        reasons = e(" ".join(state.hidden_reasons)) or "hidden state"
        head.append(
            f'<span class="nt-hidden-state" title="{reasons}" style="color:#b8860b">'
            "&#9888; hidden state</span>"
        )
    parts = [
        f'<div class="nt-run-card" data-run-id="{e(state.run_id)}" data-status="{e(state.status)}"'
        ' style="font-family:var(--jp-ui-font-family,sans-serif);font-size:12px;'
        "border:1px solid #ddd;border-left:4px solid " + color + ';padding:4px 8px;margin:2px 0">',
        '<div class="nt-head">' + " &middot; ".join(head) + "</div>",
    ]
    if state.error:
        parts.append(f'<div class="nt-error" style="color:#d62728">{e(state.error)}</div>')
    if state.params:
        items = list(state.params.items())[:MAX_PARAMS_SHOWN]
        cells = "".join(
            f'<span class="nt-param" style="margin-right:12px"><span style="color:#777">'
            f"{e(k)}</span>&nbsp;{e(v if len(v) <= 60 else v[:57] + '...')}</span>"
            for k, v in items
        )
        more = len(state.params) - len(items)
        if more > 0:
            cells += f'<span style="color:#777">+{more} more</span>'
        parts.append(f'<div class="nt-params">{cells}</div>')
    if state.metrics:
        rows = []
        for key, value in list(state.metrics.items())[:MAX_METRICS_SHOWN]:
            series = state.series.get(key)
            spark = ""
            if sparkline_images and key in sparkline_images:
                spark = f'<img src="{sparkline_images[key]}" alt="{e(key)} curve" height="24"/>'
            elif series is not None and len(series.values) > 1:
                spark = sparkline_svg(series.xs(), series.values)
            points = f" ({len(series.values)} pts)" if series and len(series.values) > 1 else ""
            rows.append(
                f'<tr class="nt-metric" data-key="{e(key)}"><td style="{_CELL};color:#777">'
                f"{e(key)}</td>"
                f'<td style="{_CELL};font-variant-numeric:tabular-nums"><b>{format_value(value)}'
                f'</b><span style="color:#999">{points}</span></td><td style="{_CELL}">{spark}</td>'
                "</tr>"
            )
        more = len(state.metrics) - min(len(state.metrics), MAX_METRICS_SHOWN)
        if more > 0:
            rows.append(f'<tr><td colspan="3" style="color:#777">+{more} more</td></tr>')
        parts.append('<table class="nt-metrics" style="border-collapse:collapse">')
        parts.extend(rows)
        parts.append("</table>")
    if state.logged:
        parts.append(
            '<div class="nt-logged" style="color:#777">logged: '
            + ", ".join(e(item) for item in state.logged)
            + "</div>"
        )
    if state.notes:
        notes = "; ".join(e(n) for n in state.notes[:5])
        parts.append(f'<div class="nt-notes" style="color:#777">{notes}</div>')
    parts.append("</div>")
    return "".join(parts)


def card_text(state: CardState) -> str:
    """The card for plain-text renderers."""
    lines = [
        f"Run {state.run_name} ({state.run_id}) {state.status} {format_duration(state.duration_s)}"
    ]
    if state.params:
        lines.append("params: " + ", ".join(f"{k}={v}" for k, v in state.params.items()))
    if state.metrics:
        lines.append(
            "metrics: " + ", ".join(f"{k}={format_value(v)}" for k, v in state.metrics.items())
        )
    if state.hidden_state:
        lines.append("hidden state: " + " ".join(state.hidden_reasons))
    if state.error:
        lines.append("error: " + state.error)
    return "\n".join(lines)

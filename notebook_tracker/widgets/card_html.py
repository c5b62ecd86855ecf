"""The run card as HTML: the same markup serves the live widget and the static fallback."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from notebook_tracker.widgets.card_system import is_system, system_html, system_text
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


# Every element carries its whole style inline and every class starts with `ntc-`: no
# stylesheet of JupyterLab, Notebook 7, the sidebar or a theme matches the card, and inline
# declarations beat their generic rules (tables centred, odd rows shaded, cells right-aligned).
_MUTED = "color:var(--jp-ui-font-color2,#777)"
_CELL = (
    "padding:1px 10px 1px 0;text-align:left;vertical-align:middle;border:none;"
    "background:transparent;line-height:1.4;white-space:nowrap;max-width:none"
)
_ROW = "background:transparent;border:none"
_LINK = "color:var(--jp-content-link-color,#1976d2);text-decoration:none;cursor:pointer"


def _badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#7f7f7f")
    return (
        f'<span class="ntc-status" style="display:inline-block;width:auto;height:auto;'
        f"min-width:0;background:{color};color:#fff;border-radius:3px;padding:0 6px;"
        "font-size:11px;line-height:16px;font-weight:600;letter-spacing:0.02em;"
        f'vertical-align:baseline;animation:none;opacity:1">{html.escape(status)}</span>'
    )


def card_html(state: CardState, sparkline_images: dict[str, str] | None = None) -> str:
    """Markup of the card. `sparkline_images` (key -> data URI) replaces the SVG sparklines,
    for renderers that strip SVG."""
    e = html.escape
    color = STATUS_COLORS.get(state.status, "#7f7f7f")
    head = [
        f'<b class="ntc-name" style="font-weight:600">{e(state.run_name)}</b>',
        _badge(state.status),
        f'<span class="ntc-duration" style="font-variant-numeric:tabular-nums">'
        f"{format_duration(state.duration_s)}</span>",
        f'<a class="ntc-link" href="{run_link(state.run_id)}" style="{_LINK}" '
        f'title="Open run {e(state.run_id)} in the notebook-tracker sidebar">open in sidebar</a>',
    ]
    if state.parent_run_id:
        head.append(
            '<span class="ntc-parent" style="white-space:nowrap">'
            f'child of <a class="ntc-link" style="{_LINK}" '
            f'href="{run_link(state.parent_run_id)}" title="Open the parent run '
            f'{e(state.parent_run_id)}">{e(state.parent_run_id[:8])}</a></span>'
        )
    if state.hidden_state:
        reasons = e(" ".join(state.hidden_reasons)) or "hidden state"
        head.append(
            f'<span class="ntc-hidden-state" title="{reasons}" style="color:#b8860b">'
            "&#9888; hidden state</span>"
        )
    parts = [
        f'<div class="nt-run-card" data-run-id="{e(state.run_id)}" data-status="{e(state.status)}"'
        ' style="font-family:var(--jp-ui-font-family,sans-serif);font-size:12px;line-height:1.4;'
        "color:var(--jp-ui-font-color1,#222);background:transparent;text-align:left;"
        "border:1px solid var(--jp-border-color2,#ddd);border-left:4px solid "
        + color
        + ';border-radius:2px;padding:4px 8px;margin:2px 0;box-sizing:border-box">',
        '<div class="ntc-head" style="display:block;margin:0 0 2px">'
        + " &middot; ".join(head)
        + "</div>",
    ]
    if state.error:
        parts.append(f'<div class="ntc-error" style="color:#d62728">{e(state.error)}</div>')
    if state.params:
        items = list(state.params.items())[:MAX_PARAMS_SHOWN]
        cells = "".join(
            f'<span class="ntc-param" style="margin-right:12px;white-space:nowrap">'
            f'<span style="{_MUTED}">{e(k)}</span>&nbsp;'
            f"{e(v if len(v) <= 60 else v[:57] + '...')}</span> "
            for k, v in items
        )
        more = len(state.params) - len(items)
        if more > 0:
            cells += f'<span style="{_MUTED}">+{more} more</span>'
        parts.append(f'<div class="ntc-params" style="margin:0 0 2px">{cells}</div>')
    parts.append(system_html(state.metrics, state.series, sparkline_images))
    metrics = {k: v for k, v in state.metrics.items() if not is_system(k)}
    if metrics:
        rows = []
        for key, value in list(metrics.items())[:MAX_METRICS_SHOWN]:
            series = state.series.get(key)
            spark = ""
            if sparkline_images and key in sparkline_images:
                spark = (
                    f'<img src="{sparkline_images[key]}" alt="{e(key)} curve" height="24" '
                    'style="display:inline-block;max-width:none;margin:0;vertical-align:middle"/>'
                )
            elif series is not None and len(series.values) > 1:
                spark = sparkline_svg(series.xs(), series.values)
            points = f" ({len(series.values)} pts)" if series and len(series.values) > 1 else ""
            rows.append(
                f'<tr class="ntc-metric" data-key="{e(key)}" style="{_ROW}">'
                f'<td style="{_CELL};{_MUTED}">{e(key)}</td>'
                f'<td style="{_CELL};font-variant-numeric:tabular-nums"><b>{format_value(value)}'
                f'</b><span style="{_MUTED}">{points}</span></td><td style="{_CELL}">{spark}</td>'
                "</tr>"
            )
        more = len(metrics) - min(len(metrics), MAX_METRICS_SHOWN)
        if more > 0:
            rows.append(
                f'<tr style="{_ROW}"><td colspan="3" style="{_CELL};{_MUTED}">'
                f"+{more} more</td></tr>"
            )
        parts.append(
            '<table class="ntc-metrics" style="border-collapse:collapse;border:none;margin:0;'
            'width:auto;table-layout:auto;font-size:12px;color:inherit"><tbody>'
        )
        parts.extend(rows)
        parts.append("</tbody></table>")
    if state.logged:
        parts.append(
            f'<div class="ntc-logged" style="{_MUTED}">logged: '
            + ", ".join(e(item) for item in state.logged)
            + "</div>"
        )
    if state.notes:
        notes = "; ".join(e(n) for n in state.notes[:5])
        parts.append(f'<div class="ntc-notes" style="{_MUTED}">{notes}</div>')
    parts.append("</div>")
    return "".join(parts)


def card_text(state: CardState) -> str:
    """The card for plain-text renderers."""
    lines = [
        f"Run {state.run_name} ({state.run_id}) {state.status} {format_duration(state.duration_s)}"
    ]
    if state.params:
        lines.append("params: " + ", ".join(f"{k}={v}" for k, v in state.params.items()))
    metrics = {k: v for k, v in state.metrics.items() if not is_system(k)}
    if metrics:
        lines.append("metrics: " + ", ".join(f"{k}={format_value(v)}" for k, v in metrics.items()))
    system = system_text(state.metrics)
    if system:
        lines.append(system)
    if state.hidden_state:
        lines.append("hidden state: " + " ".join(state.hidden_reasons))
    if state.error:
        lines.append("error: " + state.error)
    return "\n".join(lines)

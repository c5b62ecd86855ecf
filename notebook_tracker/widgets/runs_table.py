"""The comparison's run table as HTML: params that differ between runs are highlighted."""

from __future__ import annotations

import html

from notebook_tracker.widgets.card_html import format_duration, format_value, run_link
from notebook_tracker.widgets.compare_data import ComparisonData

DIFF_STYLE = "background:#fff3cd"
_TD = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap"


def runs_table_html(data: ComparisonData, max_params: int = 30, max_metrics: int = 30) -> str:
    e = html.escape
    differing = set(data.differing_params)
    params = data.differing_params + [k for k in data.param_keys if k not in differing]
    params = params[:max_params]
    metrics = data.metric_keys[:max_metrics]
    head = ["run", "status", "duration"]
    header = "".join(f'<th style="{_TD}">{e(h)}</th>' for h in head)
    header += "".join(
        f'<th class="nt-param-col{" nt-differs" if k in differing else ""}" '
        f'style="{_TD};{DIFF_STYLE if k in differing else ""}">{e(k)}</th>'
        for k in params
    )
    header += "".join(f'<th class="nt-metric-col" style="{_TD}">{e(k)}</th>' for k in metrics)
    rows = []
    for run in data.runs:
        info = run.info
        duration = (
            format_duration((info.end_time - info.start_time) / 1000)
            if info.end_time and info.start_time
            else ""
        )
        hidden = run.data.tags.get("notebook_tracker.hidden_state") == "true"
        flag = ' <span title="hidden state" style="color:#b8860b">&#9888;</span>' if hidden else ""
        cells = [
            f'<a href="{run_link(info.run_id)}" title="{e(info.run_id)}">{e(info.run_name)}</a>'
            f"{flag}",
            e(info.status),
            duration,
        ]
        row = "".join(f'<td style="{_TD}">{c}</td>' for c in cells)
        for k in params:
            value = run.data.params.get(k)
            text = "" if value is None else (value if len(value) <= 40 else value[:37] + "...")
            style = f"{_TD};{DIFF_STYLE}" if k in differing else _TD
            row += f'<td class="nt-param" data-key="{e(k)}" style="{style}">{e(text)}</td>'
        for k in metrics:
            number = run.data.metrics.get(k)
            text = "" if number is None else format_value(number)
            row += (
                f'<td class="nt-metric" style="{_TD};font-variant-numeric:tabular-nums">{text}</td>'
            )
        rows.append(f'<tr data-run-id="{e(info.run_id)}">{row}</tr>')
    return (
        '<div style="overflow-x:auto"><table class="nt-runs-table" '
        'style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )

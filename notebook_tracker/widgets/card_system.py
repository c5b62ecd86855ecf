"""The run card's "system" line: CPU, memory and GPU of a run that logs system metrics, in one
compact row (with a CPU sparkline) instead of a dozen `system/...` rows in the metrics table."""

from __future__ import annotations

import html
from collections.abc import Mapping

from notebook_tracker.widgets.sparkline import sparkline_svg

PREFIX = "system/"
CPU = "cpu_utilization_percentage"
_MUTED = "color:var(--jp-ui-font-color2,#777)"
MAX_NODES_SHOWN = 4


def is_system(key: str) -> bool:
    return key.startswith(PREFIX)


def is_system_cpu(key: str) -> bool:
    return key.startswith(PREFIX) and key.endswith(CPU)


def by_node(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """`system/<name>` -> {"": {name: v}}, `system/<node>/<name>` -> {node: {name: v}}."""
    nodes: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if not key.startswith(PREFIX):
            continue
        node, _, name = key[len(PREFIX) :].rpartition("/")
        nodes.setdefault(node, {})[name] = value
    return nodes


def _gpus(values: dict[str, float]) -> list[str]:
    out = []
    i = 0
    while (
        f"gpu_{i}_utilization_percentage" in values or f"gpu_{i}_memory_usage_megabytes" in values
    ):
        util = values.get(f"gpu_{i}_utilization_percentage")
        mem = values.get(f"gpu_{i}_memory_usage_percentage")
        text = f"GPU {i} {util:.0f}%" if util is not None else f"GPU {i}"
        if mem is not None:
            text += f" (mem {mem:.0f}%)"
        out.append(text)
        i += 1
    return out


def summary(values: dict[str, float]) -> list[str]:
    """The figures worth a glance, as short texts: CPU, memory, GPUs."""
    parts = []
    if CPU in values:
        parts.append(f"CPU {values[CPU]:.0f}%")
    used = values.get("system_memory_usage_megabytes")
    share = values.get("system_memory_usage_percentage")
    if used is not None:
        amount = f"{used / 1000:.1f} GB" if used >= 1000 else f"{used:.0f} MB"
        parts.append(f"memory {amount}" + (f" ({share:.0f}%)" if share is not None else ""))
    parts.extend(_gpus(values))
    return parts


def system_html(
    metrics: dict[str, float], series: Mapping[str, object], images: dict[str, str] | None = None
) -> str:
    """One `ntc-system` row per node (the machine itself first); empty without system metrics."""
    rows = []
    nodes = by_node(metrics)
    for node in sorted(nodes)[:MAX_NODES_SHOWN]:
        parts = summary(nodes[node])
        if not parts:
            continue
        key = f"{PREFIX}{node + '/' if node else ''}{CPU}"
        spark = ""
        if images and key in images:
            spark = (
                f'<img src="{images[key]}" alt="CPU curve" height="16" '
                'style="display:inline-block;max-width:none;margin:0 4px;vertical-align:middle"/>'
            )
        else:
            s = series.get(key)
            if s is not None and len(getattr(s, "values", ())) > 1:
                spark = sparkline_svg(s.xs(), s.values, width=80, height=16)  # type: ignore[attr-defined]
        label = f"system {html.escape(node)}" if node else "system"
        first, rest = parts[0], parts[1:]
        text = html.escape(first) + spark + "".join(f" &middot; {html.escape(p)}" for p in rest)
        rows.append(
            f'<div class="ntc-system" data-node="{html.escape(node)}" style="margin:0 0 2px;'
            f'white-space:nowrap"><span style="{_MUTED}">{label}</span>&nbsp; {text}</div>'
        )
    return "".join(rows)


def system_text(metrics: dict[str, float]) -> str | None:
    nodes = by_node(metrics)
    lines = [
        f"system{' ' + node if node else ''}: " + ", ".join(summary(values))
        for node, values in sorted(nodes.items())
        if summary(values)
    ]
    return "\n".join(lines) or None

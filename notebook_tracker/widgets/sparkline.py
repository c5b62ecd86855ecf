"""Sparklines: a metric's curve as a tiny inline SVG (no plotting library needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def downsample(
    xs: Sequence[float], ys: Sequence[float], max_points: int = 120
) -> tuple[list[float], list[float]]:
    """Keep at most `max_points` (min/max per bucket, the package's one downsampler), always
    the first and the last; NaN and inf are dropped."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if math.isfinite(y) and math.isfinite(x)]
    if len(pairs) > max_points:
        from notebook_tracker.downsample import minmax_indices

        picked = minmax_indices([p[1] for p in pairs], max_points).tolist()
        pairs = [pairs[i] for i in picked]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def sparkline_svg(
    xs: Sequence[float],
    ys: Sequence[float],
    width: int = 120,
    height: int = 24,
    color: str = "#1f77b4",
) -> str:
    """An SVG polyline of the points scaled into `width` x `height`; empty for < 2 points."""
    xs, ys = downsample(xs, ys)
    if len(xs) < 2:
        return ""
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    dx = (x1 - x0) or 1.0
    dy = (y1 - y0) or 1.0
    pad = 2
    w, h = width - 2 * pad, height - 2 * pad
    points = " ".join(
        f"{pad + (x - x0) / dx * w:.1f},{pad + h - (y - y0) / dy * h:.1f}"
        for x, y in zip(xs, ys, strict=False)
    )
    last_x, last_y = points.rsplit(" ", 1)[-1].split(",")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="ntc-sparkline" style="vertical-align:middle">'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="2" fill="{color}"/></svg>'
    )

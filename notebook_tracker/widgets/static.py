"""Static fallbacks: PNG plots and HTML that show where widgets are not rendered.

Figures are built with `matplotlib.figure.Figure` and the Agg canvas, never pyplot, so drawing
them neither opens windows nor touches the user's current figure or inline backend.
"""

from __future__ import annotations

import base64
import io
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def new_figure(width: float = 6.0, height: float = 3.2) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


# Plots are rendered at twice their display size and shown at a fixed CSS width, so they stay
# sharp on high-density screens instead of being stretched to the output area's width.
HIDPI = 2


def png_display_width(png: bytes, scale: int = HIDPI) -> int:
    """The CSS width a PNG rendered at `scale` times its size is shown at (IHDR's width)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("Not a PNG image.")
    return int.from_bytes(png[16:20], "big") // scale


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sparkline_pngs(series: dict[str, Any]) -> dict[str, bytes]:
    """One small PNG per metric series with at least two points (key -> PNG bytes)."""
    from notebook_tracker.widgets.sparkline import downsample

    out = {}
    for key, s in series.items():
        if len(s.values) < 2:
            continue
        xs, ys = downsample(s.xs(), s.values, 300)
        if len(xs) < 2:
            continue
        fig = new_figure(1.2, 0.24)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.plot(xs, ys, linewidth=1.0, color="#1f77b4")
        ax.plot(xs[-1:], ys[-1:], "o", markersize=2, color="#1f77b4")
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        out[key] = buf.getvalue()
    return out


def curves_png(series: dict[str, Any], title: str = "") -> bytes | None:
    """All stepped metrics of a run on small stacked axes: the card's PNG fallback."""
    stepped = {k: s for k, s in series.items() if len(s.values) > 1}
    if not stepped:
        return None
    from notebook_tracker.widgets.sparkline import downsample

    keys = list(stepped)[:8]
    fig = new_figure(5.0, 1.3 * len(keys))
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys, strict=False):
        xs, ys = downsample(stepped[key].xs(), stepped[key].values, 1000)
        ax.plot(xs, ys, linewidth=1.2)
        ax.set_ylabel(key, fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    return figure_png(fig)


def with_fallbacks(
    widget_bundle: dict[str, Any], html: str, png: bytes | None = None, text: str | None = None
) -> dict[str, Any]:
    """A widget's mime bundle plus text/html (and image/png) for renderers without widgets."""
    bundle = dict(widget_bundle)
    bundle["text/html"] = html
    if png is not None:
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
    if text is not None:
        bundle["text/plain"] = text
    return bundle

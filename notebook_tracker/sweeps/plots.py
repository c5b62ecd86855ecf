"""The sweep run's two figures, drawn with matplotlib (Agg, no display): the optimisation
history (each trial's value and the best so far) and parallel coordinates (one line per
complete trial across every param, coloured by its value)."""

from __future__ import annotations

import io
import math
from typing import Any

from notebook_tracker.sweeps.space import Space
from notebook_tracker.sweeps.trial import COMPLETE

HISTORY = "sweep/optimization_history.png"
PARALLEL = "sweep/parallel_coordinates.png"


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def history_png(result: Any) -> bytes:
    from matplotlib.figure import Figure

    rows = sorted((r for r in result.rows if r.value is not None), key=lambda r: r.number)
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    done = [r for r in rows if r.state == COMPLETE]
    ax.scatter([r.number for r in done], [r.value for r in done], s=14, label=result.metric)
    pruned = [r for r in rows if r.state != COMPLETE]
    if pruned:
        ax.scatter(
            [r.number for r in pruned], [r.value for r in pruned], s=14, marker="x", label="pruned"
        )
    best: list[float] = []
    pick = max if result.mode == "max" else min
    for r in done:
        best.append(r.value if not best else pick(best[-1], r.value))
    ax.step([r.number for r in done], best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(result.metric or "value")
    ax.set_title(f"{result.name}: optimisation history")
    ax.legend(fontsize=8)
    return _png(fig)


def _axis_value(space_dim: Any, raw: Any) -> float:
    if space_dim.kind == "choice":
        texts = [str(c) for c in space_dim.choices]
        index = texts.index(str(raw)) if str(raw) in texts else 0
        return index / max(1, len(texts) - 1)
    value = float(raw)
    low, high = space_dim.low, space_dim.high
    if space_dim.log:
        value, low, high = math.log(value), math.log(low), math.log(high)
    return (value - low) / (high - low) if high > low else 0.5


def parallel_png(result: Any, space: Space) -> bytes:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    rows = [r for r in result.rows if r.state == COMPLETE and r.value is not None]
    dims = list(space.dimensions)
    fig = Figure(figsize=(1.6 * (len(dims) + 1) + 1, 3.4))
    ax = fig.add_subplot()
    values = [r.value for r in rows]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    cmap = colormaps["viridis_r" if result.mode == "min" else "viridis"]
    xs = list(range(len(dims) + 1))
    for r in rows:
        ys = [_axis_value(d, r.params.get(d.name)) for d in dims]
        ys.append((r.value - low) / (high - low) if high > low else 0.5)
        shade = (r.value - low) / (high - low) if high > low else 0.5
        ax.plot(xs, ys, color=cmap(shade), alpha=0.8, linewidth=1.2)
    ax.set_xticks(xs, [d.name for d in dims] + [result.metric or "value"])
    for x in xs:
        ax.axvline(x, color="0.6", linewidth=0.8)
    ax.set_yticks([0, 1], ["low", "high"])
    ax.set_title(f"{result.name}: parallel coordinates ({len(rows)} complete trials)")
    return _png(fig)


def log_plots(client: Any, run_id: str, result: Any, space: Space) -> None:
    from notebook_tracker.artifacts import get_artifact_repository

    repo = get_artifact_repository(client.get_run(run_id).info.artifact_uri)
    repo.write_bytes(HISTORY, history_png(result))
    repo.write_bytes(PARALLEL, parallel_png(result, space))

"""The live progress table of a sweep: one display updated in place as trials finish.

Like the run card it is a display with an id (IPython's `DisplayHandle`), so it needs no
widget model and still shows in a saved notebook; the best trial's row is highlighted.
"""

from __future__ import annotations

import html
import time
from typing import Any

MAX_ROWS = 200  # the newest rows beyond this are summarised, not drawn
MIN_INTERVAL = 0.2  # seconds between redraws; the last state is always drawn

_STYLE = """<style>
.nt-sweep-table{border-collapse:collapse;font:12px var(--jp-code-font-family,monospace)}
.nt-sweep-table th,.nt-sweep-table td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}
.nt-sweep-table tr.nt-best td{background:#d8f5d0;font-weight:bold}
.nt-sweep-table td.nt-state-PRUNED{color:#a06000}.nt-sweep-table td.nt-state-FAIL,
.nt-sweep-table td.nt-state-KILLED{color:#b00020}
</style>"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def render(result: Any, names: list[str]) -> str:
    """The table as HTML (pure: no display here)."""
    rows = sorted(result.rows, key=lambda r: r.number)
    done = sum(r.state not in ("RUNNING",) for r in rows)
    running = len(rows) - done
    best = result.best
    goal = f"{'maximising' if result.mode == 'max' else 'minimising'} {result.metric or '?'}"
    head = (
        f"<div class='nt-sweep' data-status='{html.escape(result.status)}' "
        f"data-done='{done}' data-running='{running}'>"
        f"<b>sweep {html.escape(result.name)}</b> · {goal} · {done} done, {running} running"
        f" · <span class='nt-sweep-status'>{html.escape(result.status)}</span>"
    )
    if best is not None:
        head += f" · best: trial {best.number} = {_fmt(best.value)}"
    cols = ["trial", "state", *names, result.metric or "value", "seconds"]
    out = [
        _STYLE,
        head,
        "<table class='nt-sweep-table'><tr>",
        *(f"<th>{html.escape(c)}</th>" for c in cols),
        "</tr>",
    ]
    shown = rows[-MAX_ROWS:]
    for r in shown:
        cls = " class='nt-best'" if best is not None and r.number == best.number else ""
        cells = [str(r.number), f"<span title='{html.escape(r.error or '')}'>{r.state}</span>"]
        cells += [_fmt(r.params.get(n, "")) for n in names]
        cells += [_fmt(r.value) if r.value is not None else "", _fmt(r.seconds or "")]
        out.append(f"<tr{cls}>")
        out += [
            f"<td class='nt-state-{r.state}'>{c}</td>" if i == 1 else f"<td>{c}</td>"
            for i, c in enumerate(cells)
        ]
        out.append("</tr>")
    out.append("</table>")
    if len(rows) > len(shown):
        out.append(f"<i>{len(rows) - len(shown)} earlier trials not shown</i>")
    out.append("</div>")
    return "".join(out)


class SweepTable:
    """Call it with the sweep's result after each change; it redraws at most every 0.2 s."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._handle: Any = None
        self._last = 0.0

    def _repr_html_(self) -> str:
        return self._html

    def __call__(self, result: Any) -> None:
        self._html = render(result, self.names)
        now = time.monotonic()
        final = result.status != "RUNNING"
        if self._handle is not None and not final and now - self._last < MIN_INTERVAL:
            return
        self._last = now
        from IPython.display import HTML, display

        if self._handle is None:
            self._handle = display(HTML(self._html), display_id=True)
        else:
            self._handle.update(HTML(self._html))


class PrintProgress:
    """For terminals (the CLI): one line per finished trial."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def __call__(self, result: Any) -> None:
        for r in sorted(result.rows, key=lambda r: r.number):
            if r.state == "RUNNING" or r.number in self.seen:
                continue
            self.seen.add(r.number)
            value = "" if r.value is None else f" {result.metric}={r.value:.6g}"
            why = f" ({r.error})" if r.error else ""
            print(f"trial {r.number} {r.state}{value} {r.params}{why}", flush=True)

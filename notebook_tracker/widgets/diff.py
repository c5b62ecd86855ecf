"""A unified diff of two texts as compact colored HTML."""

from __future__ import annotations

import difflib
import html

_STYLES = {
    "+": "background:#e6ffed;color:#22863a",
    "-": "background:#ffeef0;color:#b31d28",
    "@": "color:#6f42c1",
}


def diff_lines(a: str, b: str, a_label: str, b_label: str, context: int = 3) -> list[str]:
    return list(
        difflib.unified_diff(
            a.splitlines(),
            b.splitlines(),
            fromfile=a_label,
            tofile=b_label,
            n=context,
            lineterm="",
        )
    )


def diff_html(a: str | None, b: str | None, a_label: str, b_label: str) -> str:
    """The diff of `a` and `b`; says so plainly when one is missing or both are the same."""
    if a is None or b is None:
        missing = a_label if a is None else b_label
        return f'<div class="nt-diff"><i>{html.escape(missing)} has no such file.</i></div>'
    lines = diff_lines(a, b, a_label, b_label)
    if not lines:
        return '<div class="nt-diff"><i>Identical.</i></div>'
    rows = []
    for line in lines:
        style = "" if line.startswith(("+++", "---")) else _STYLES.get(line[:1], "")
        rows.append(f'<div style="{style}">{html.escape(line) or "&nbsp;"}</div>')
    return (
        '<div class="nt-diff" style="font-family:monospace;font-size:12px;white-space:pre;'
        'max-height:400px;overflow:auto">' + "".join(rows) + "</div>"
    )

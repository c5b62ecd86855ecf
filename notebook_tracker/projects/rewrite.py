"""Override values in code: rewrite top-level `name = <literal>` assignments, keep the rest.

Only the literal is replaced, in place, so comments, formatting and line numbers survive.
"Top level" means the module body and the bodies of top-level `if`, `with`, `try` and `match`
blocks (the same scope the auto-logging rules call top level).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any


@dataclass
class LiteralSite:
    name: str
    value: Any
    start: tuple[int, int]  # (line, UTF-8 byte column) of the literal
    end: tuple[int, int]


def _top_level(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in stmts:
        out.append(stmt)
        if isinstance(stmt, ast.If):
            out += _top_level(stmt.body) + _top_level(stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            out += _top_level(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            out += _top_level(stmt.body)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                out += _top_level(handler.body)
            out += _top_level(stmt.orelse) + _top_level(stmt.finalbody)  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                out += _top_level(case.body)
    return out


def literal_sites(code: str) -> list[LiteralSite] | None:
    """Every top-level `name = <literal>` of `code` in source order; None if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    sites = []
    for stmt in _top_level(tree.body):
        if isinstance(stmt, ast.Assign):
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            if len(names) != len(stmt.targets):
                continue
            value_node = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            if not isinstance(stmt.target, ast.Name):
                continue
            names, value_node = [stmt.target.id], stmt.value
        else:
            continue
        try:
            value = ast.literal_eval(value_node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        start = (value_node.lineno, value_node.col_offset)
        end = (value_node.end_lineno or value_node.lineno, value_node.end_col_offset or 0)
        sites += [LiteralSite(name, value, start, end) for name in names]
    return sites


def rewrite_literals(code: str, values: dict[str, Any]) -> tuple[str, set[str]]:
    """`code` with the literal of every top-level assignment to a name in `values` replaced.

    Returns the new code and the names that were rewritten at least once.
    """
    sites = [s for s in (literal_sites(code) or []) if s.name in values]
    if not sites:
        return code, set()
    raw = code.encode("utf-8")
    line_starts = [0]
    for line in raw.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    spans: dict[tuple[int, int], str] = {}
    for site in sites:
        spans[(offset(site.start), offset(site.end))] = site.name
    for (start, end), name in sorted(spans.items(), reverse=True):
        raw = raw[:start] + python_literal(values[name]).encode("utf-8") + raw[end:]
    return raw.decode("utf-8"), {s.name for s in sites}


def python_literal(value: Any) -> str:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"float({str(value)!r})"
    return repr(value)

"""Which names a cell's code binds, reads from the kernel, and changes in place.

Pure AST functions shared by the lineage checks; the binding rules are the auto-logging ones
(`autolog.analyze_cell`), so "defines" means the same thing in both places.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import Any

from notebook_tracker.cells.autolog import analyze_cell, analyze_statements, mutated_names

TRACK_MAGICS = ("track_run", "run_experiment")


@lru_cache(maxsize=4096)
def defined_names(code: str) -> frozenset[str]:
    """Names the code binds in the module scope (anywhere, loops included)."""
    bindings = analyze_cell(code)  # cached: a session's history is parsed once, not per cell
    return frozenset(bindings.records) if bindings is not None else frozenset()


class _Reads(ast.NodeVisitor):
    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.local: list[set[str]] = []

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not any(node.id in s for s in self.local):
            self.loads.add(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # `n += 1` reads n before it writes it.
        if isinstance(node.target, ast.Name) and not any(node.target.id in s for s in self.local):
            self.loads.add(node.target.id)
        self.generic_visit(node)

    def _scoped(self, node: ast.AST, names: set[str]) -> None:
        self.local.append(names)
        self.generic_visit(node)
        self.local.pop()

    def _function(self, node: Any) -> None:
        args = node.args
        names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
        self._scoped(node, names)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _comprehension(self, node: Any) -> None:
        names = {
            sub.id
            for gen in node.generators
            for sub in ast.walk(gen.target)
            if isinstance(sub, ast.Name)
        }
        self._scoped(node, names)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


@lru_cache(maxsize=4096)
def read_names(code: str) -> frozenset[str]:
    """Names the code reads from the namespace it starts with (not bound before being read)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return frozenset()
    bound: set[str] = set()
    reads: set[str] = set()
    for stmt in tree.body:
        visitor = _Reads()
        visitor.visit(stmt)
        reads |= visitor.loads - bound
        bound |= set(analyze_statements([stmt]).records)
    return frozenset(reads)


@lru_cache(maxsize=4096)
def self_dependent(code: str) -> frozenset[str]:
    """Names the code reads from the kernel and then rebinds or changes in place.

    Running such code twice does not give what running it once does (`n += 1`,
    `scores.append(x)` on a list made by another cell).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return frozenset()
    return read_names(code) & (defined_names(code) | mutated_names(tree.body))


def unwrap_tracked(source: str) -> str | None:
    """The body of a `%%track_run` cell, or None for any other cell."""
    first, _, body = source.lstrip().partition("\n")
    words = first.split()
    if words and words[0].lstrip("%") in TRACK_MAGICS and first.startswith("%%"):
        return body
    return None


def plain_source(source: str) -> str:
    """A saved cell's source as Python good enough for name analysis (no kernel at hand).

    A tracked cell becomes its body; line magics and shell escapes become `pass`; any other
    cell magic gives no code.
    """
    body = unwrap_tracked(source)
    if body is not None:
        source = body
    elif source.lstrip().startswith("%%"):
        return ""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        lines.append(line)
    return "\n".join(lines)

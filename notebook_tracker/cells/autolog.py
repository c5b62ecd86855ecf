"""Auto-logging rules: which names of a cell become params and which become metrics.

Pure functions over the cell's source (already turned into plain Python by IPython) and the
namespace after the cell ran. docs/magics.md states the same rules for users; keep both in step.

- The cell's *top level* is the module body plus the bodies of top-level `if`, `with`, `try`
  and `match` blocks (recursively). Loops, functions, classes and comprehensions are not.
- A name's record is its sequence of bindings in the cell's module scope, in source order; a
  `del name` clears the record, so a name deleted last is neither param nor metric.
- Param: every binding left in the record is a top-level assignment of a literal (numbers,
  strings, booleans, None, negative numbers, and lists/tuples/sets/dicts of those with at most
  50 items and a text form of at most 1000 characters), and the cell does not change the value
  in place anywhere (`x.append(...)` and the other list/dict/set mutators, `x[...] = ...`,
  `x.attr = ...`, `del x[...]`, `x += ...`): a literal that is then filled is a result, not a
  setting. Its value is the name's value after the cell, as text.
- Metric: not a param, at least one top-level binding, and the value after the cell is a real
  number (int, float, numpy integer/floating scalar; not bool) or a dict of 1-100 real numbers
  keyed by strings (giving `name.key` metrics).
- Names starting with `_` are never logged automatically.
"""

from __future__ import annotations

import ast
import numbers
from dataclasses import dataclass, field
from typing import Any

MAX_LITERAL_ITEMS = 50
MAX_LITERAL_TEXT = 1000
MAX_DICT_METRICS = 100
# Methods that change a list, dict, set or bytearray in place.
MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "sort",
        "reverse",
        "update",
        "setdefault",
        "add",
        "discard",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "__setitem__",
        "__delitem__",
        "__iadd__",
    }
)


@dataclass
class _Binding:
    top: bool
    literal: bool


@dataclass
class CellBindings:
    """What the cell does to each name of its module scope, in order."""

    records: dict[str, list[_Binding]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    mutated: set[str] = field(default_factory=set)  # changed in place somewhere in the cell

    def bind(self, name: str, top: bool, literal: bool) -> None:
        self.records.setdefault(name, []).append(_Binding(top, literal))
        self.deleted.discard(name)

    def delete(self, name: str) -> None:
        self.records.pop(name, None)
        self.deleted.add(name)

    @property
    def param_names(self) -> list[str]:
        return [
            n
            for n, rec in self.records.items()
            if rec
            and all(b.top and b.literal for b in rec)
            and n not in self.mutated
            and not n.startswith("_")
        ]

    @property
    def top_level_names(self) -> list[str]:
        return [
            n
            for n, rec in self.records.items()
            if any(b.top for b in rec) and not n.startswith("_")
        ]


def _count_literal(node: ast.AST, depth: int = 0) -> int | None:
    """Items in a literal expression, or None when it is not a literal (or too deep)."""
    if depth > 3:
        return None
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis or isinstance(node.value, bytes):
            return None
        return 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float, complex)):
            return 1
        return None
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_count_literal(e, depth + 1) for e in node.elts]
    elif isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):  # `**other` is not a literal
            return None
        items = [_count_literal(k, depth + 1) for k in node.keys if k is not None]
        items += [_count_literal(v, depth + 1) for v in node.values]
    else:
        return None
    if any(i is None for i in items):
        return None
    return 1 + sum(items)  # type: ignore[arg-type]


def is_literal(node: ast.AST) -> bool:
    """True for the literals the param rule accepts (see the module docstring)."""
    count = _count_literal(node)
    if count is None or count > MAX_LITERAL_ITEMS + 1:
        return False
    try:
        return len(ast.unparse(node)) <= MAX_LITERAL_TEXT
    except Exception:
        return False


class _Collector:
    def __init__(self) -> None:
        self.out = CellBindings()

    def target(self, node: ast.AST, top: bool, value: ast.AST | None) -> None:
        if isinstance(node, ast.Name):
            self.out.bind(node.id, top, value is not None and is_literal(value))
        elif isinstance(node, (ast.Tuple, ast.List)):
            values = None
            if (
                isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(node.elts)
                and not any(isinstance(e, ast.Starred) for e in node.elts + value.elts)
            ):
                values = value.elts
            for i, elt in enumerate(node.elts):
                self.target(elt, top, values[i] if values is not None else None)
        elif isinstance(node, ast.Starred):
            self.target(node.value, top, None)
        # Attribute and subscript targets bind no name of the cell's scope.

    def walrus(self, node: ast.AST, top: bool) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.out.bind(sub.target.id, top, False)

    def block(self, stmts: list[ast.stmt], top: bool) -> None:
        for stmt in stmts:
            self.statement(stmt, top)

    # One flat dispatch over Python's statement kinds, read top to bottom like the grammar.
    def statement(self, stmt: ast.stmt, top: bool) -> None:  # noqa: C901
        if isinstance(stmt, ast.Assign):
            self.walrus(stmt.value, top)
            for t in stmt.targets:
                self.target(t, top, stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.walrus(stmt.value, top)
                self.target(stmt.target, top, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            self.walrus(stmt.value, top)
            self.target(stmt.target, top, None)
        elif isinstance(stmt, ast.Delete):
            for t in stmt.targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name):
                        self.out.delete(sub.id)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.out.bind(stmt.name, top, False)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name != "*":
                    self.out.bind((alias.asname or alias.name).split(".")[0], top, False)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self.walrus(stmt.iter, top)
            self.target(stmt.target, False, None)
            self.block(stmt.body, False)
            self.block(stmt.orelse, False)
        elif isinstance(stmt, ast.While):
            self.walrus(stmt.test, False)
            self.block(stmt.body, False)
            self.block(stmt.orelse, False)
        elif isinstance(stmt, ast.If):
            self.walrus(stmt.test, top)
            self.block(stmt.body, top)
            self.block(stmt.orelse, top)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.walrus(item.context_expr, top)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, top, None)
            self.block(stmt.body, top)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.block(stmt.body, top)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                if handler.name:
                    self.out.bind(handler.name, top, False)
                self.block(handler.body, top)
                if handler.name:
                    self.out.delete(handler.name)  # Python unbinds `except ... as e` names
            self.block(stmt.orelse, top)  # type: ignore[attr-defined]
            self.block(stmt.finalbody, top)  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Match):
            self.walrus(stmt.subject, top)
            for case in stmt.cases:
                for sub in ast.walk(case.pattern):
                    name = getattr(sub, "name", None)
                    if isinstance(name, str):
                        self.out.bind(name, top, False)
                self.block(case.body, top)
        elif isinstance(stmt, (ast.Expr, ast.Return, ast.Raise, ast.Assert)):
            self.walrus(stmt, top)


def _base_name(node: ast.AST) -> str | None:
    """`x` of `x`, `x[0]`, `x.a.b`, `x[0].a`: the name whose value a target changes."""
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _store_targets(targets: list[ast.expr]) -> list[ast.expr]:
    """Subscript and attribute targets, tuples unpacked: `a[0], b = ...` changes a, binds b."""
    out: list[ast.expr] = []
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            out.extend(_store_targets(target.elts))
        elif isinstance(target, ast.Starred):
            out.extend(_store_targets([target.value]))
        elif not isinstance(target, ast.Name):
            out.append(target)
    return out


def mutated_names(stmts: list[ast.stmt]) -> set[str]:
    """Names whose value the code changes in place, anywhere (loops and functions included)."""
    changed: list[ast.expr] = []
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in MUTATORS:
                    changed.append(node.func.value)
            elif isinstance(node, (ast.Assign, ast.Delete)):
                changed.extend(_store_targets(node.targets))
            elif isinstance(node, ast.AugAssign):  # `x += [1]` extends a list in place
                changed.append(node.target)
            elif isinstance(node, ast.AnnAssign):
                changed.extend(_store_targets([node.target]))
    return {n for n in map(_base_name, changed) if n is not None}


def analyze_statements(stmts: list[ast.stmt]) -> CellBindings:
    collector = _Collector()
    collector.block(stmts, True)
    collector.out.mutated = mutated_names(stmts)
    return collector.out


def analyze_cell(source: str) -> CellBindings | None:
    """The cell's bindings, or None when it is not valid Python (nothing is auto-logged)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return analyze_statements(tree.body)


# -- values ------------------------------------------------------------------------------------
def is_real_number(value: Any) -> bool:
    """int, float, Fraction, numpy integer/floating scalars; not bool, numpy bool or complex."""
    if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):
        return False
    return isinstance(value, numbers.Real)


def metric_items(name: str, value: Any) -> dict[str, float] | None:
    """The metrics a value gives under `name`, or None when it gives none."""
    if is_real_number(value):
        return {name: float(value)}
    if isinstance(value, dict) and 0 < len(value) <= MAX_DICT_METRICS:
        out: dict[str, float] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not is_real_number(item):
                return None
            out[f"{name}.{key}"] = float(item)
        return out
    return None


def param_text(value: Any, limit: int = 6000) -> str | None:
    """The text a param value is stored as, or None when it is too long to be a param."""
    text = str(value)
    return text if len(text) <= limit else None


@dataclass
class AutologResult:
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it was not logged


_MISSING = object()


def select(
    bindings: CellBindings | None,
    namespace: dict[str, Any],
    extra_params: list[str] = (),  # type: ignore[assignment]
    extra_metrics: list[str] = (),  # type: ignore[assignment]
    autolog: bool = True,
) -> AutologResult:
    """Apply the rules to the namespace after the cell; `-p`/`-m` names are always considered."""
    result = AutologResult()
    forced_params, forced_metrics = list(extra_params), list(extra_metrics)
    params = list(bindings.param_names) if (bindings and autolog) else []
    for name in forced_params:
        if name not in params:
            params.append(name)
    params = [n for n in params if n not in forced_metrics]
    for name in params:
        value = namespace.get(name, _MISSING)
        if value is _MISSING:
            result.skipped[name] = "not defined after the cell"
            continue
        text = param_text(value)
        if text is None:
            result.skipped[name] = "its text is longer than 6000 characters"
            continue
        result.params[name] = text
    candidates = list(bindings.top_level_names) if (bindings and autolog) else []
    for name in forced_metrics:
        if name not in candidates:
            candidates.append(name)
    for name in candidates:
        if name in result.params or name in params:
            continue
        value = namespace.get(name, _MISSING)
        if value is _MISSING:
            if name in forced_metrics:
                result.skipped[name] = "not defined after the cell"
            continue
        items = metric_items(name, value)
        if items is None:
            if name in forced_metrics:
                result.skipped[name] = (
                    f"a {type(value).__name__}, not a real number or a dict of numbers"
                )
            continue
        result.metrics.update(items)
    return result

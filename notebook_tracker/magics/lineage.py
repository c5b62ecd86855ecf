"""Lineage of a tracked cell: the code the kernel ran before it, and the hidden state it reveals.

Pure functions: the kernel's executions and the notebook as last saved come in, a report and a
replayable script come out. docs/magics.md ("Lineage") describes the same rules for users.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from notebook_tracker.magics.autolog import analyze_cell, analyze_statements

TRACK_MAGICS = ("track_run", "run_experiment")


@dataclass
class Execution:
    """One input the kernel executed: `count` is its `In[count]` number."""

    count: int
    source: str  # as typed (IPython syntax)
    code: str  # as run (plain Python)
    cell_id: str | None = None
    failed: bool = False


@dataclass
class NotebookCell:
    index: int  # position among all cells of the notebook
    cell_id: str | None
    source: str
    execution_count: int | None


def normalize(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip("\n").splitlines()).strip()


def notebook_cells(raw: bytes | dict[str, Any]) -> list[NotebookCell]:
    """The code cells of an .ipynb file, raw or parsed (any nbformat 4 minor version)."""
    data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    cells = []
    for index, cell in enumerate(data.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        cells.append(NotebookCell(index, cell.get("id"), source, cell.get("execution_count")))
    return cells


# -- names -------------------------------------------------------------------------------------
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


def read_names(code: str) -> set[str]:
    """Names the code reads from the namespace it starts with (not bound before being read)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    bound: set[str] = set()
    reads: set[str] = set()
    for stmt in tree.body:
        visitor = _Reads()
        visitor.visit(stmt)
        reads |= visitor.loads - bound
        bound |= set(analyze_statements([stmt]).records)
    return reads


# -- hidden state ------------------------------------------------------------------------------
@dataclass
class LineageReport:
    notebook_known: bool
    executions: list[dict[str, Any]] = field(default_factory=list)
    out_of_order: list[dict[str, int]] = field(default_factory=list)
    edited_after_run: list[dict[str, Any]] = field(default_factory=list)
    stale_names: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def hidden_state(self) -> bool:
        return bool(self.out_of_order or self.edited_after_run or self.stale_names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hidden_state": self.hidden_state,
            "notebook_known": self.notebook_known,
            "reasons": self.reasons,
            "out_of_order": self.out_of_order,
            "edited_after_run": self.edited_after_run,
            "stale_names": self.stale_names,
            "executions": self.executions,
        }


def _counts_consistent(history: list[Execution], cells: list[NotebookCell]) -> bool:
    """Whether the saved execution counts belong to this kernel session (not a previous one)."""
    by_count = {e.count: e for e in history}
    saved = [c for c in cells if c.execution_count in by_count]
    if not saved:
        return False
    same = sum(normalize(by_count[c.execution_count].source) == normalize(c.source) for c in saved)  # type: ignore[index]
    return same * 2 >= len(saved)


def _locate(
    execution: Execution,
    cells: list[NotebookCell],
    by_source: dict[str, list[NotebookCell]],
    by_count: dict[int, NotebookCell],
    after: int,
) -> tuple[NotebookCell | None, str]:
    """The notebook cell an execution came from, and whether its code is still there."""
    norm = normalize(execution.source)
    if execution.cell_id:
        for cell in cells:
            if cell.cell_id == execution.cell_id:
                return cell, "current" if normalize(cell.source) == norm else "changed"
    matches = by_source.get(norm, [])
    if matches:
        later = [c for c in matches if c.index >= after]
        return (later or matches)[0], "current"
    cell = by_count.get(execution.count)
    if cell is not None:
        return cell, "changed"
    return None, "gone"


def _out_of_order(
    located: list[tuple[Execution, NotebookCell | None, str]],
) -> list[dict[str, int]]:
    """Cells (down to the tracked one) whose latest run predates the latest run of a cell above.

    Only each cell's latest execution counts: running a cell again, then the cells below it
    in order, puts the kernel back in notebook order.
    """
    latest: dict[int, int] = {}
    for execution, cell, _state in located:
        if cell is not None:
            latest[cell.index] = execution.count
    current_cell = located[-1][1]
    limit = current_cell.index if current_cell is not None else max(latest, default=-1)
    flagged = []
    above: tuple[int, int] | None = None  # (count, index) of the latest-run cell above
    for index in sorted(i for i in latest if i <= limit):
        count = latest[index]
        if above is not None and above[0] > count:
            flagged.append(
                {"index": index, "count": count, "after_index": above[1], "after_count": above[0]}
            )
        if above is None or count > above[0]:
            above = (count, index)
    return flagged


def analyze_lineage(
    history: list[Execution],
    current: Execution,
    cells: list[NotebookCell] | None,
) -> LineageReport:
    """Flag hidden state: out-of-order runs, cells edited after they ran, stale definitions."""
    if cells is None:
        report = LineageReport(notebook_known=False)
        report.executions = [
            {"count": e.count, "cell_id": e.cell_id, "state": "unknown"} for e in history
        ]
        report.reasons.append(
            "The notebook file is unknown, so hidden-state checks were skipped; the replay "
            "script still holds everything the kernel ran."
        )
        return report
    report = LineageReport(notebook_known=True)
    by_source: dict[str, list[NotebookCell]] = {}
    for cell in cells:
        by_source.setdefault(normalize(cell.source), []).append(cell)
    by_count = (
        {c.execution_count: c for c in cells if c.execution_count is not None}
        if _counts_consistent(history, cells)
        else {}
    )
    located: list[tuple[Execution, NotebookCell | None, str]] = []
    previous = -1
    for execution in [*history, current]:
        cell, state = _locate(execution, cells, by_source, by_count, previous)
        located.append((execution, cell, state))
        if cell is not None:
            previous = cell.index
    report.out_of_order = _out_of_order(located)
    latest: dict[int, tuple[Execution, str]] = {}
    for execution, cell, state in located[:-1]:
        report.executions.append(
            {
                "count": execution.count,
                "cell_id": execution.cell_id or (cell.cell_id if cell else None),
                "notebook_index": cell.index if cell else None,
                "state": state,
            }
        )
        if cell is not None:
            latest[cell.index] = (execution, state)
    current_cell = located[-1][1]
    for index, (execution, state) in sorted(latest.items()):
        if state == "changed" and (current_cell is None or index != current_cell.index):
            report.edited_after_run.append({"count": execution.count, "notebook_index": index})
    definer: dict[str, tuple[Execution, str]] = {}
    for execution, _cell, state in located[:-1]:
        for name in defined_names(execution.code):
            definer[name] = (execution, state)
    for name in sorted(read_names(current.code)):
        found = definer.get(name)
        if found is not None and found[1] in ("changed", "gone"):
            report.stale_names[name] = found[0].count
    if report.out_of_order:
        report.reasons.append(
            "Cells ran out of notebook order: "
            + ", ".join(
                f"cell {o['after_index'] + 1} (In[{o['after_count']}]) ran after cell "
                f"{o['index'] + 1} (In[{o['count']}]) below it"
                for o in report.out_of_order
            )
            + "."
        )
    if report.edited_after_run:
        report.reasons.append(
            "Cells were edited after they ran: "
            + ", ".join(
                f"cell {e['notebook_index'] + 1} (In[{e['count']}])"
                for e in report.edited_after_run
            )
            + " now differ from what the kernel executed."
        )
    if report.stale_names:
        report.reasons.append(
            "The cell reads names defined by code no longer in the notebook: "
            + ", ".join(f"{n} (In[{c}])" for n, c in report.stale_names.items())
            + "."
        )
    return report


# -- replay ------------------------------------------------------------------------------------
def unwrap_tracked(source: str) -> str | None:
    """The body of a `%%track_run` cell, or None for any other cell."""
    first, _, body = source.lstrip().partition("\n")
    words = first.split()
    if words and words[0].lstrip("%") in TRACK_MAGICS and first.startswith("%%"):
        return body
    return None


def replay_script(history: list[Execution], transform: Any, header: str = "") -> str:
    """The executions as one script, in order, runnable with `ipython replay.py`.

    Tracked cells are replayed as their bodies (replaying creates no runs); `transform` turns
    IPython syntax into Python (IPython's `transform_cell`). A cell that raised runs inside
    `try`, so the replay goes on past it as the kernel did.
    """
    parts = [header] if header else []
    for execution in history:
        body = unwrap_tracked(execution.source)
        code = (execution.code if body is None else transform(body)).rstrip()
        if execution.failed:
            code = (
                f"try:\n    exec(compile({code + chr(10)!r}, 'In[{execution.count}]', 'exec'))\n"
                f"except BaseException as error:  # In[{execution.count}] raised when it ran\n"
                f"    print('In[{execution.count}] raised', repr(error))"
            )
        parts.append(f"# In[{execution.count}]:\n{code}\n")
    return "\n".join(parts)

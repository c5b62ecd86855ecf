"""Lineage of a tracked cell: the code the kernel ran before it, and the hidden state it reveals.

Pure functions: the kernel's executions and the notebook as last saved come in, a report and a
replayable script come out. docs/magics.md ("Lineage") describes the same rules for users.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from notebook_tracker.magics.names import (
    TRACK_MAGICS,
    defined_names,
    plain_source,
    read_names,
    self_dependent,
    unwrap_tracked,
)
from notebook_tracker.magics.replay import replay_script

__all__ = ["TRACK_MAGICS", "defined_names", "read_names", "replay_script", "unwrap_tracked"]


@dataclass
class Execution:
    """One input the kernel executed: `count` is its `In[count]` number."""

    count: int
    source: str  # as typed (IPython syntax)
    code: str  # as run (plain Python)
    cell_id: str | None = None
    failed: bool = False
    started: float | None = None  # wall-clock seconds; None when not recorded


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


# -- hidden state ------------------------------------------------------------------------------
# Where an execution stands against the saved notebook:
#   current  its code is the code of a cell of the file;
#   changed  the file, saved after it ran, holds other code for its cell (edited after running);
#   unsaved  the file predates it and lacks its code (an edit or a new cell not saved yet):
#            no evidence either way, so nothing is flagged;
#   gone     its cell was deleted (the front end said so, or a file saved after it lacks it).
@dataclass
class LineageReport:
    notebook_known: bool
    executions: list[dict[str, Any]] = field(default_factory=list)
    out_of_order: list[dict[str, int]] = field(default_factory=list)
    edited_after_run: list[dict[str, Any]] = field(default_factory=list)
    stale_names: dict[str, int] = field(default_factory=dict)
    repeated: list[dict[str, Any]] = field(default_factory=list)
    misplaced: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def hidden_state(self) -> bool:
        return bool(
            self.out_of_order
            or self.edited_after_run
            or self.stale_names
            or self.repeated
            or self.misplaced
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "hidden_state": self.hidden_state,
            "notebook_known": self.notebook_known,
            "reasons": self.reasons,
            "out_of_order": self.out_of_order,
            "edited_after_run": self.edited_after_run,
            "stale_names": self.stale_names,
            "repeated": self.repeated,
            "misplaced": self.misplaced,
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


@dataclass
class _Notebook:
    cells: list[NotebookCell]
    saved_at: float | None
    deleted: frozenset[str]
    by_id: dict[str, NotebookCell]
    by_source: dict[str, list[NotebookCell]]
    by_count: dict[int, NotebookCell]

    def saved_after(self, execution: Execution) -> bool:
        """Whether the file was written after the execution started (unknown counts as yes)."""
        if self.saved_at is None or execution.started is None:
            return True
        return self.saved_at > execution.started


def _locate(execution: Execution, nb: _Notebook, after: int) -> tuple[NotebookCell | None, str]:
    """The notebook cell an execution came from, and its state (see above)."""
    norm = normalize(execution.source)
    if execution.cell_id and execution.cell_id in nb.deleted:
        return None, "gone"
    missing = "gone" if nb.saved_after(execution) else "unsaved"
    if execution.cell_id and nb.by_id:
        cell = nb.by_id.get(execution.cell_id)
        if cell is None:
            return None, missing
        if normalize(cell.source) == norm:
            return cell, "current"
        return cell, "changed" if missing == "gone" else "unsaved"
    matches = nb.by_source.get(norm, [])
    if matches:
        later = [c for c in matches if c.index >= after]
        return (later or matches)[0], "current"
    cell = nb.by_count.get(execution.count)
    if cell is not None:
        return cell, "changed" if missing == "gone" else "unsaved"
    return None, missing


def _python(execution: Execution) -> str:
    """The code to analyse: a tracked cell's body rather than the magic call it ran as."""
    if unwrap_tracked(execution.source) is not None:
        return plain_source(execution.source)
    return execution.code


Located = list[tuple[Execution, NotebookCell | None, str]]


def _out_of_order(located: Located) -> list[dict[str, int]]:
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


def _repeated(located: Located, reads: frozenset[str]) -> list[dict[str, Any]]:
    """Cells run again that changed, the second time, what their first run had left.

    A cell that reads a name and rebinds or mutates it (`n += 1`, `scores.append(x)`) gives
    another value each time it runs, unless a cell binding that name afresh ran in between.
    Only names the tracked cell reads count, and the tracked cell's own code.
    """
    current_cell = located[-1][1]
    if current_cell is None:
        return []
    runs: dict[int, list[int]] = {}
    for position, (_execution, cell, _state) in enumerate(located):
        if cell is not None and cell.index <= current_cell.index:
            runs.setdefault(cell.index, []).append(position)
    # the cell whose latest run is at a position -> the position of its run before
    checks = {p[-1]: p[-2] for p in runs.values() if len(p) >= 2}
    fresh_at: dict[str, int] = {}  # name -> latest position that bound it afresh
    flagged = []
    for position, (execution, cell, _state) in enumerate(located):
        code = _python(execution)
        prev = checks.get(position)
        if prev is not None and cell is not None:
            changed = set(self_dependent(code))
            if cell.index != current_cell.index:
                changed &= reads
            changed = {n for n in changed if fresh_at.get(n, -1) <= prev}
            if changed:
                counts = [located[p][0].count for p in runs[cell.index]]
                flagged.append({"index": cell.index, "counts": counts, "names": sorted(changed)})
        for name in defined_names(code) - self_dependent(code):
            fresh_at[name] = position
    return sorted(flagged, key=lambda f: f["index"])


def _misplaced(located: Located, nb: _Notebook, reads: frozenset[str]) -> list[dict[str, Any]]:
    """Names the tracked cell reads whose value does not come from where notebook order says.

    In notebook order a name comes from the last cell above the tracked one that binds it.
    Flagged: that cell never ran in this kernel, or a cell below the tracked one bound the
    name last.
    """
    current_cell = located[-1][1]
    if current_cell is None:
        return []
    ran: dict[int, Execution] = {}
    definer: dict[str, tuple[Execution, NotebookCell | None, str]] = {}
    unplaced: set[str] = set()  # bound by code whose cell is not known (unsaved, gone)
    for execution, cell, state in located[:-1]:
        names = defined_names(_python(execution))
        if cell is not None:
            ran[cell.index] = execution
        elif state == "unsaved":
            unplaced |= names
        for name in names:
            definer[name] = (execution, cell, state)
    above = []  # (cell, the names it binds: as it ran, else as saved), in notebook order
    for cell in nb.cells:
        if cell.index >= current_cell.index or (cell.cell_id and cell.cell_id in nb.deleted):
            continue
        ran_as = ran.get(cell.index)
        code = _python(ran_as) if ran_as is not None else plain_source(cell.source)
        above.append((cell, defined_names(code)))
    flagged = []
    for name in sorted(reads):
        expected = next((cell for cell, names in reversed(above) if name in names), None)
        if expected is None:
            continue
        if expected.index not in ran:
            if name not in unplaced:
                flagged.append({"name": name, "index": expected.index, "why": "skipped"})
            continue
        found = definer.get(name)
        if found is not None and found[1] is not None and found[1].index > current_cell.index:
            flagged.append(
                {"name": name, "index": found[1].index, "count": found[0].count, "why": "below"}
            )
    return flagged


def _reasons(report: LineageReport) -> list[str]:
    reasons = []
    if report.out_of_order:
        reasons.append(
            "Cells ran out of notebook order: "
            + ", ".join(
                f"cell {o['after_index'] + 1} (In[{o['after_count']}]) ran after cell "
                f"{o['index'] + 1} (In[{o['count']}]) below it"
                for o in report.out_of_order
            )
            + "."
        )
    if report.edited_after_run:
        reasons.append(
            "Cells were edited after they ran: "
            + ", ".join(
                f"cell {e['notebook_index'] + 1} (In[{e['count']}])"
                for e in report.edited_after_run
            )
            + " now differ from what the kernel executed."
        )
    if report.stale_names:
        reasons.append(
            "The cell reads names defined by code no longer in the notebook: "
            + ", ".join(f"{n} (In[{c}])" for n, c in report.stale_names.items())
            + "."
        )
    for r in report.repeated:
        runs = ", ".join(f"In[{c}]" for c in r["counts"])
        reasons.append(
            f"Cell {r['index'] + 1} ran {len(r['counts'])} times ({runs}) and changes "
            + ", ".join(r["names"])
            + " each time it runs."
        )
    for m in report.misplaced:
        if m["why"] == "skipped":
            reasons.append(
                f"{m['name']} comes from cell {m['index'] + 1} in notebook order, "
                "which did not run in this kernel."
            )
        else:
            reasons.append(
                f"{m['name']} was last set by cell {m['index'] + 1} (In[{m['count']}]), "
                "below this cell."
            )
    return reasons


def analyze_lineage(
    history: list[Execution],
    current: Execution,
    cells: list[NotebookCell] | None,
    saved_at: float | None = None,
    deleted: set[str] | frozenset[str] = frozenset(),
) -> LineageReport:
    """Flag hidden state: cells run out of order, edited after they ran, deleted, run again,
    or skipped, as far as the executions and the notebook saved at `saved_at` tell."""
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
    for saved in cells:
        by_source.setdefault(normalize(saved.source), []).append(saved)
    nb = _Notebook(
        cells,
        saved_at,
        frozenset(deleted),
        {c.cell_id: c for c in cells if c.cell_id},
        by_source,
        {c.execution_count: c for c in cells if c.execution_count is not None}
        if _counts_consistent(history, cells)
        else {},
    )
    located: Located = []
    previous = -1
    for execution in [*history, current]:
        cell, state = _locate(execution, nb, previous)
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
        for name in defined_names(_python(execution)):
            definer[name] = (execution, state)
    reads = read_names(current.code)
    for name in sorted(reads):
        found = definer.get(name)
        if found is not None and found[1] in ("changed", "gone"):
            report.stale_names[name] = found[0].count
    report.repeated = _repeated(located, reads)
    report.misplaced = _misplaced(located, nb, reads)
    report.reasons = _reasons(report)
    return report

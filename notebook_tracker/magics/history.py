"""The kernel's executions, as `lineage` wants them, from IPython's input history.

A small recorder listens to IPython's cell events to add what the history lacks: the notebook
cell id of each execution, when it started, whether it raised, and the cells the front end
says were deleted. Execution numbers come from what IPython reports for the cell
(`ExecutionResult.execution_count`), never from `shell.execution_count`: IPython 9 increments
that counter before a cell runs, IPython 8 after, so it is off by one on one of them.

Cell ids come from the execute request: IPython passes `cell_id` to the cell events when the
kernel gives it one; otherwise the request's metadata (`cellId`, which JupyterLab and Notebook 7
send) is read from the kernel's parent header. JupyterLab also sends `deletedCells`, the ids of
cells deleted since the previous execution.
"""

from __future__ import annotations

import time
from typing import Any

from notebook_tracker.magics.lineage import Execution


def request_metadata(shell: Any) -> dict[str, Any]:
    """The metadata of the execute request being handled, or {} outside a kernel."""
    kernel = getattr(shell, "kernel", None)
    parent: Any = None
    get_parent = getattr(kernel, "get_parent", None)
    if callable(get_parent):
        try:
            parent = get_parent("shell")
        except Exception:
            parent = None
    if not parent:
        parent = getattr(shell, "parent_header", None)
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _cell_id(info: Any, metadata: dict[str, Any]) -> str | None:
    cell_id = getattr(info, "cell_id", None) or metadata.get("cellId")
    return cell_id if isinstance(cell_id, str) and cell_id else None


def current_execution(shell: Any) -> tuple[int, str | None]:
    """`(In[n] number, notebook cell id)` of the cell running now.

    Outside a cell (a magic called from code), the number the next input would get.
    """
    result = getattr(shell.displayhook, "exec_result", None)
    count = getattr(result, "execution_count", None)
    info = getattr(result, "info", None)
    if not isinstance(count, int):
        count = shell.execution_count
    if info is not None and not getattr(info, "store_history", True):
        info = None  # a cell run from inside another: not the front end's request
    return count, _cell_id(info, request_metadata(shell)) if info is not None else None


class ExecutionRecorder:
    """Cell ids, start times and failures by execution count, since the extension loaded."""

    def __init__(self) -> None:
        self.cell_ids: dict[int, str] = {}
        self.started: dict[int, float] = {}
        self.failed: set[int] = set()
        self.deleted: set[str] = set()  # cell ids the front end reported deleted
        self._shell: Any = None
        self._pending: tuple[str | None, float] | None = None
        self._attached_at = time.time()
        self._transformed: dict[str, str] = {}

    def attach(self, shell: Any) -> None:
        self._shell = shell
        self._attached_at = time.time()
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)

    def detach(self) -> None:
        if self._shell is None:
            return
        for name, fn in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self._shell.events.unregister(name, fn)
            except ValueError:
                pass
        self._shell = None

    def _note_deleted(self, metadata: dict[str, Any]) -> None:
        deleted = metadata.get("deletedCells")
        if isinstance(deleted, list):
            self.deleted.update(d for d in deleted if isinstance(d, str))

    def pre_run_cell(self, info: Any) -> None:
        if not getattr(info, "store_history", False):
            return  # a cell run from inside another (our own tracked cells): not an input
        metadata = request_metadata(self._shell) if self._shell is not None else {}
        self._note_deleted(metadata)
        self._pending = (_cell_id(info, metadata), time.time())

    def post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        count = getattr(result, "execution_count", None)
        if info is None or not getattr(info, "store_history", False) or not isinstance(count, int):
            return
        if self._pending is not None:
            cell_id, started = self._pending
        else:  # the cell that loaded the extension: it started before we listened
            metadata = request_metadata(self._shell) if self._shell is not None else {}
            self._note_deleted(metadata)
            cell_id, started = _cell_id(info, metadata), self._attached_at
        self._pending = None
        if cell_id:
            self.cell_ids[count] = cell_id
        self.started.setdefault(count, started)
        if not result.success:
            self.failed.add(count)

    def transform(self, source: str) -> str:
        """IPython syntax to Python, remembered: replay scripts re-read the whole history."""
        code = self._transformed.get(source)
        if code is None and self._shell is None:
            return source
        if code is None:
            code = self._transformed[source] = self._shell.transform_cell(source)
        return code


def executions(shell: Any, recorder: ExecutionRecorder | None, upto: int) -> list[Execution]:
    """Inputs `In[1]` .. `In[upto - 1]` of this kernel session, in order."""
    hm = shell.history_manager
    raw, parsed = hm.input_hist_raw, hm.input_hist_parsed
    out = []
    for count in range(1, min(upto, len(raw))):
        source = raw[count]
        if not source.strip():
            continue
        out.append(
            Execution(
                count=count,
                source=source,
                code=parsed[count] if count < len(parsed) else source,
                cell_id=recorder.cell_ids.get(count) if recorder else None,
                failed=bool(recorder and count in recorder.failed),
                started=recorder.started.get(count) if recorder else None,
            )
        )
    return out

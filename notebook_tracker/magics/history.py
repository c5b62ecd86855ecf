"""The kernel's executions, as `lineage` wants them, from IPython's input history.

A small recorder listens to IPython's cell events to add what the history lacks: the notebook
cell id of each execution (front ends send it with the request) and whether it raised.
"""

from __future__ import annotations

from typing import Any

from notebook_tracker.magics.lineage import Execution


class ExecutionRecorder:
    """Cell ids and failures by execution count, for the executions since the extension loaded."""

    def __init__(self) -> None:
        self.cell_ids: dict[int, str] = {}
        self.failed: set[int] = set()
        self._shell: Any = None
        self._count: int | None = None
        self._transformed: dict[str, str] = {}

    def attach(self, shell: Any) -> None:
        self._shell = shell
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

    def pre_run_cell(self, info: Any) -> None:
        if not getattr(info, "store_history", False):
            return  # a cell run from inside another (our own tracked cells): not an input
        self._count = self._shell.execution_count
        cell_id = getattr(info, "cell_id", None)
        if cell_id:
            self.cell_ids[self._count] = cell_id

    def post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        if info is None or not getattr(info, "store_history", False) or self._count is None:
            return
        if not result.success:
            self.failed.add(self._count)

    def current_cell_id(self, count: int) -> str | None:
        return self.cell_ids.get(count)

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
            )
        )
    return out

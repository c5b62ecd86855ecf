"""The replay script of a run: everything the kernel ran before the tracked cell, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from notebook_tracker.magics.names import unwrap_tracked

if TYPE_CHECKING:
    from notebook_tracker.magics.lineage import Execution


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

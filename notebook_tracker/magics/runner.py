"""Run a cell's body exactly as IPython would, while keeping a copy of what it printed and showed.

The body goes through `shell.run_cell`, so it shares the namespace, the display hook, input
transformations and traceback display of a plain cell. stdout and stderr are teed (the user
still sees everything), rich displays and the cell's result are copied as they are published.
Output written straight to file descriptors (subprocesses, C code) is not seen by the tee.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

MAX_CAPTURE_CHARS = 5_000_000


class _Tee:
    """A text stream that writes through to `stream` and keeps a bounded copy."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def write(self, text: str) -> int:
        if self._size < MAX_CAPTURE_CHARS and isinstance(text, str):
            self._parts.append(text)
            self._size += len(text)
        elif text:
            self.truncated = True
        return self.stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def getvalue(self) -> str:
        text = "".join(self._parts)
        if self.truncated:
            text += f"\n[notebook-tracker: output truncated after {MAX_CAPTURE_CHARS} chars]\n"
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@dataclass
class CellOutcome:
    error: BaseException | None = None
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)  # mime bundles, in order
    result: dict[str, Any] | None = None  # the cell's result (Out[n]) as a mime bundle
    traceback: str = ""


def _format_traceback(error: BaseException) -> str:
    import traceback

    tb = error.__traceback__
    # Skip IPython's own frames above the cell's code.
    while tb is not None and "IPython" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _patch(obj: Any, name: str, value: Any) -> Any:
    """Shadow `obj.name` with `value` on the instance; the returned function undoes it."""
    had, previous = name in vars(obj), vars(obj).get(name)
    setattr(obj, name, value)

    def undo() -> None:
        if had:
            setattr(obj, name, previous)
        else:
            vars(obj).pop(name, None)

    return undo


def run_body(shell: Any, body: str) -> CellOutcome:
    """Run `body` as a cell of `shell` (no new history entry); return what it produced."""
    outcome = CellOutcome()
    out_tee, err_tee = _Tee(sys.stdout), _Tee(sys.stderr)
    display_pub, displayhook = shell.display_pub, shell.displayhook
    original_publish = display_pub.publish
    original_write = displayhook.write_format_data  # bound now, before we shadow them

    def publish(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and not kwargs.get("update"):
            outcome.displays.append(dict(data))
        return original_publish(data, *args, **kwargs)

    def write_format_data(format_dict: Any, md_dict: Any = None) -> Any:
        if isinstance(format_dict, dict):
            outcome.result = dict(format_dict)
        return original_write(format_dict, md_dict)

    sys.stdout, sys.stderr = out_tee, err_tee
    restore = [_patch(display_pub, "publish", publish)]
    restore.append(_patch(displayhook, "write_format_data", write_format_data))
    try:
        result = shell.run_cell(body, store_history=False)
    finally:
        # Restore only what is still ours: the cell may have replaced the streams itself.
        if sys.stdout is out_tee:
            sys.stdout = out_tee.stream
        if sys.stderr is err_tee:
            sys.stderr = err_tee.stream
        for undo in restore:
            undo()
    outcome.stdout, outcome.stderr = out_tee.getvalue(), err_tee.getvalue()
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        outcome.error = error
        outcome.traceback = _format_traceback(error)
    return outcome

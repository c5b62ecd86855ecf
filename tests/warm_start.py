"""Slow, session-long setup begun in a background thread early in the run.

A module lists its `WarmStart`s in `WARM_STARTS`; conftest notes each one that a selected test
will use (the test names `fixture`) when collection ends, begins them with the first test
outside tests/e2e (the browser tests come first), and the fixture takes
`result()`, waiting for what is not finished yet. A local Spark session takes 15-50 s to
start and warm up, mostly in its own JVM: begun early it overlaps the tests before it on the
second core, instead of adding its whole time to the run. An error in the background is
raised by `result()` in the fixture, as if the fixture had hit it itself. What `stop` ends (a
server process) is ended by the fixture, or at the session's end if no test took it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_BEGUN: list[WarmStart] = []


class WarmStart:
    def __init__(
        self,
        fixture: str,
        start: Callable[[], Any],
        stop: Callable[[Any], None] | None = None,
    ) -> None:
        self.fixture = fixture
        self._start = start
        self._stop = stop
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._value: Any = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"warm-start-{self.fixture}", daemon=True
                )
                self._thread.start()
                _BEGUN.append(self)

    def _run(self) -> None:
        try:
            self._value = self._start()
        except BaseException as exc:  # handed to the fixture, which raises it
            self._error = exc

    def result(self) -> Any:
        self.begin()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    @property
    def begun(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        """Join the background start and end what it started (once)."""
        with self._lock:
            thread, self._stopped, stopped = self._thread, True, self._stopped
        if thread is None or stopped:
            return
        thread.join()
        if self._stop is not None and self._error is None:
            self._stop(self._value)


def close_all() -> None:
    """End whatever was begun and is still running (the session is over)."""
    for warm in _BEGUN:
        warm.close()

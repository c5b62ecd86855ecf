"""A pass a read asks for but never waits on: one background thread per store and kind of
work (the liveness reaper, the run packer), started at most once per interval."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

_log = logging.getLogger(__name__)


class BackgroundPass:
    """Starts `work` in a daemon thread when asked, unless a pass is running or one started
    less than `interval_s` ago: a read calls `start()` on every page at no cost."""

    def __init__(self, name: str, interval_s: float) -> None:
        self.name = name
        self.interval_s = interval_s
        self.thread: threading.Thread | None = None
        self.last_start = -math.inf
        self._lock = threading.Lock()

    def start(self, work: Callable[[], object]) -> None:
        if time.monotonic() - self.last_start < self.interval_s:
            return
        with self._lock:
            if self.thread is not None and self.thread.is_alive():
                return
            self.last_start = time.monotonic()
            # The work is passed per call, not kept: the store stays collectable.
            self.thread = threading.Thread(
                target=self._run, args=(work,), name=self.name, daemon=True
            )
            self.thread.start()

    def ran_now(self) -> None:
        """A pass ran outside `start` (called directly): the interval counts from now."""
        self.last_start = time.monotonic()

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the pass in progress, if any, is over (tests, benchmarks)."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as error:  # a read-only or vanished store: a later pass retries
            _log.debug("%s failed: %s", self.name, error)


__all__ = ["BackgroundPass"]

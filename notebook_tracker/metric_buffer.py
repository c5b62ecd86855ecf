"""The fast path for metrics: append in the caller's thread, write in batches from a flusher.

`log_metric` only appends a tuple to a deque (atomic under the GIL, so no lock on the hot path).
A daemon thread drains the deque every `NOTEBOOK_TRACKER_FLUSH_INTERVAL` seconds (default 0.5)
into one transaction. `flush()` drains synchronously; `end_run` and interpreter exit call it.
A hard crash (SIGKILL, power loss) can lose at most the points of the last flush interval.
The same thread heartbeats the runs this process has open, so runs of a dead process can be
told from runs that are merely long.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from notebook_tracker import env
from notebook_tracker.errors import TrackerError
from notebook_tracker.store.base import TrackingStore

_log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 30.0
_MAX_ROWS_PER_WRITE = 200_000


def flush_interval() -> float:
    return float(os.environ.get(env.FLUSH_INTERVAL, "0.5"))


class MetricBuffer:
    """Points waiting to be written to one store: (run_id, key, value, timestamp, step)."""

    def __init__(self, store: TrackingStore, open_runs: Callable[[], list[str]]) -> None:
        self.store = store
        self.rows: deque[tuple[str, str, float, float, int]] = deque()
        self.append = self.rows.append
        self._open_runs = open_runs
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._last_error: Exception | None = None
        # Called with each batch once written, in the writing thread (a live run card reads
        # them here, off the hot path); a listener's error never stops the writing.
        self.listeners: list[Callable[[list[tuple[str, str, float, int, int]]], None]] = []
        self._thread = threading.Thread(
            target=self._run, name="notebook-tracker-flusher", daemon=True
        )
        self._thread.start()

    def flush(self, raise_errors: bool = True) -> None:
        """Write every point appended before this call; raise what the store refused."""
        with self._write_lock:
            self._drain()
        if raise_errors and self._last_error is not None:
            error, self._last_error = self._last_error, None
            raise error

    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Write what is buffered and end the run in one transaction."""
        with self._write_lock:
            rows = self.rows
            pending = [
                (r, k, v, int(t), s) for r, k, v, t, s in (rows.popleft() for _ in range(len(rows)))
            ]
            try:
                self.store.end_run(run_id, status, end_time, pending)
            except TrackerError:
                # Some points were refused for good: the run still ends, and the caller hears why.
                self.store.update_run_info(run_id, status=status, end_time=end_time)
                raise
            except Exception:
                rows.extendleft(reversed([(r, k, v, float(t), s) for r, k, v, t, s in pending]))
                raise

    def _drain(self) -> None:
        rows = self.rows
        while rows:
            n = min(len(rows), _MAX_ROWS_PER_WRITE)
            pop = rows.popleft
            batch = [pop() for _ in range(n)]
            # Timestamps were taken as float milliseconds on the hot path; the store wants ints.
            batch = [(r, k, v, int(t), s) for r, k, v, t, s in batch]
            try:
                self.store.log_metric_rows(batch)
            except TrackerError as error:
                # Refused for good (e.g. the run was deleted): keeping the rows would fail forever.
                _log.warning("notebook-tracker dropped %d metric points: %s", len(batch), error)
                self._last_error = error
            except Exception as error:  # the database is unreachable or locked: retry later
                rows.extendleft(reversed(batch))
                self._last_error = error
                _log.warning("notebook-tracker could not write metrics yet, will retry: %s", error)
                return
            else:
                for listener in tuple(self.listeners):
                    try:
                        listener(batch)
                    except Exception:
                        _log.debug("metric listener failed", exc_info=True)

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self._stopped:
            self._wake.wait(flush_interval())
            self._wake.clear()
            if self.rows:
                with self._write_lock:
                    self._drain()
            if time.monotonic() - last_beat >= HEARTBEAT_INTERVAL_S:
                last_beat = time.monotonic()
                try:
                    self.store.heartbeat(self._open_runs())
                except Exception as error:  # a missed heartbeat is harmless; the next one retries
                    _log.debug("heartbeat failed: %s", error)

    def close(self) -> None:
        self._stopped = True
        self._wake.set()
        self.flush(raise_errors=False)


_buffers: dict[int, MetricBuffer] = {}
_buffers_lock = threading.Lock()


def buffer_for(store: TrackingStore, open_runs: Callable[[], list[str]]) -> MetricBuffer:
    with _buffers_lock:
        buf = _buffers.get(id(store))
        if buf is None or buf._stopped:
            buf = _buffers[id(store)] = MetricBuffer(store, open_runs)
        return buf


def flush_all(raise_errors: bool = True) -> None:
    for buf in list(_buffers.values()):
        buf.flush(raise_errors=raise_errors)


def _reset_after_fork() -> None:
    # The flusher thread does not survive a fork; the child starts its own on first use.
    _buffers.clear()


@atexit.register
def _flush_at_exit() -> None:
    flush_all(raise_errors=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

"""The fast path for metrics: append in the caller's thread, write in batches from a flusher.

`log_metric` only appends a tuple to a deque (atomic under the GIL, so no lock on the hot path).
A daemon thread drains the deque every `NOTEBOOK_TRACKER_FLUSH_INTERVAL` seconds (default 0.5)
into one transaction. `flush()` drains synchronously; `end_run` and interpreter exit call it.
A hard crash (SIGKILL, power loss) can lose at most the points of the last flush interval.
Points go to the store's sink: SQL stores write them directly; a remote store's sink
(store/rest_outbox.py) keeps them in an on-disk journal through outages and replays them.
The same thread heartbeats the runs this process has open, so runs of a dead process can be
told from runs that are merely long.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from notebook_tracker import env, run_jobs
from notebook_tracker.errors import TrackerError
from notebook_tracker.lazy_log import LazyLogger
from notebook_tracker.store.base import MetricSink, TrackingStore

_log = LazyLogger(__name__)

HEARTBEAT_INTERVAL_S = 30.0
_MAX_ROWS_PER_WRITE = 200_000
DEFAULT_MAX_POINTS = env.DEFAULT_MAX_BUFFERED_POINTS
# How long log_metric waits for a slow (not failing) store to make room before giving up.
BLOCK_TIMEOUT_S = 30.0

Row = tuple[str, str, float, int, int]


def flush_interval() -> float:
    return env.flush_interval_s()


def max_points() -> int:
    return env.max_buffered_points()


def _retryable(error: BaseException) -> bool:
    """Errors that keep the points (the store may take them later) rather than drop them:
    an unreachable or full database (503, TEMPORARILY_UNAVAILABLE), a lock, a lost connection."""
    if not isinstance(error, TrackerError):
        return True
    return getattr(error, "retryable", False) or error.error_code == "TEMPORARILY_UNAVAILABLE"


def _where(store: TrackingStore) -> str:
    uri = store.uri
    if "@" in uri:  # never a password in a message
        uri = uri.split("://", 1)[0] + "://…@" + uri.rsplit("@", 1)[1]
    return uri or repr(store)


def _same_kind(error: TrackerError, text: str) -> TrackerError:
    """`error` with a longer message, of the same class when it takes (message, code)."""
    try:
        return type(error)(text, error.error_code)
    except TypeError:
        return TrackerError(text, error.error_code)


class StoreSink:
    """Points go straight to the store (SQL writes a batch in one transaction)."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def write(self, rows: Sequence[Row]) -> None:
        self.store.log_metric_rows(rows)

    def end_run(self, run_id: str, status: str, end_time: int, rows: Sequence[Row]) -> None:
        self.store.end_run(run_id, status, end_time, rows)

    def tick(self) -> None:
        return None

    def settle(self, raise_errors: bool) -> None:
        return None

    def blocked(self) -> TrackerError | None:
        return None

    def close(self) -> None:
        return None


class MetricBuffer:
    """Points waiting to be written to one store: (run_id, key, value, timestamp, step).

    At most `NOTEBOOK_TRACKER_MAX_BUFFERED_POINTS` (default 1,000,000) wait in memory. The hot
    path checks `len(rows) >= limit` and calls `make_room`: it writes synchronously, so a store
    that is merely slower than the loop slows the loop down (backpressure), and a store that
    fails in a way only the user can fix (SQLite on a full or read-only disk, a server down
    with a full journal) raises its error there, at once: `limit` drops to 0 while such a
    failure lasts, so the next call hears of it.
    """

    def __init__(self, store: TrackingStore, open_runs: Callable[[], list[str]]) -> None:
        self.store = store
        own_sink = store.metric_sink()
        self.sink: MetricSink = own_sink if own_sink is not None else StoreSink(store)
        self.rows: deque[tuple[str, str, float, float, int]] = deque()
        self.append = self.rows.append
        self.max_points = max_points()
        self.limit = self.max_points
        self._open_runs = open_runs
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self.stopped = False
        self._dropped: Exception | None = None  # points refused for good: raised once
        self._failure: Exception | None = None  # the store fails now: points are kept
        self._fatal = False  # ... and only the user can fix it: log_metric raises at once
        # Called with each batch once written, in the writing thread (a live run card reads
        # them here, off the hot path); a listener's error never stops the writing.
        self.listeners: list[Callable[[list[Row]], None]] = []
        self._thread = threading.Thread(
            target=self._run, name="notebook-tracker-flusher", daemon=True
        )
        self._thread.start()

    def flush(self, raise_errors: bool = True) -> None:
        """Write every point appended before this call; raise what the store refused."""
        with self._write_lock:
            self._drain()
            self.sink.settle(raise_errors)
        if not raise_errors:
            return
        if self._failure is not None and self.rows:
            raise self._with_count(self._failure)
        if self._dropped is not None:
            error, self._dropped = self._dropped, None
            raise error

    def end_run(self, run_id: str, status: str, end_time: int) -> None:
        """Write what is buffered and end the run in one transaction."""
        with self._write_lock:
            rows = self.rows
            pending = [
                (r, k, v, int(t), s) for r, k, v, t, s in (rows.popleft() for _ in range(len(rows)))
            ]
            try:
                self.sink.end_run(run_id, status, end_time, pending)
            except Exception as error:
                if getattr(error, "rows_kept", False):
                    raise  # the sink kept them (journal) or dropped them, and says which
                if not _retryable(error):
                    # Some points were refused for good: the run still ends; the caller hears why.
                    self.store.update_run_info(run_id, status=status, end_time=end_time)
                    raise
                rows.extendleft(reversed([(r, k, v, float(t), s) for r, k, v, t, s in pending]))
                self._failed(error)
                raise self._with_count(error) from None

    def make_room(self) -> None:
        """Called by log_metric when `len(rows) >= limit`: write now, or raise why it cannot."""
        deadline = time.monotonic() + BLOCK_TIMEOUT_S
        while True:
            with self._write_lock:
                self._drain()
            fatal = self._failure if isinstance(self._failure, TrackerError) else None
            failure = self.sink.blocked() or (fatal if self._fatal else None)
            if failure is None and len(self.rows) < self.max_points:
                self.limit = self.max_points
                return
            if failure is not None or time.monotonic() > deadline:
                if failure is None:
                    failure = TrackerError(
                        f"The store {_where(self.store)} has not taken a write for "
                        f"{BLOCK_TIMEOUT_S:.0f} s ({self._failure})",
                        "TEMPORARILY_UNAVAILABLE",
                    )
                text = f"{str(self._with_count(failure)).rstrip('.')}. This point was not logged."
                raise _same_kind(failure, text) from None
            time.sleep(0.05)

    def _with_count(self, error: Exception) -> Exception:
        if not isinstance(error, TrackerError) or not self.rows:
            return error
        return _same_kind(
            error,
            f"{str(error).rstrip('.')}. {len(self.rows)} metric points are waiting in memory: "
            "they are written once the store takes them (nt.flush() retries), and lost if this "
            "process exits first.",
        )

    def _failed(self, error: Exception) -> None:
        if self._failure is None:
            # One line, not a traceback from this thread: flush(), end_run() and (for errors
            # a user can act on) the next log_metric raise it in the user's code.
            _log.warning("notebook-tracker could not write metrics yet, will retry: %s", error)
        self._failure = error
        # A SQLite file that cannot be written needs the user (disk full, read-only): the next
        # log_metric says so. A lock or a database server that is down may pass: points
        # collect in memory up to the bound, and only then does log_metric wait and raise.
        self._fatal = (
            isinstance(error, TrackerError)
            and _where(self.store).startswith("sqlite")
            and "locked" not in str(error)
        )
        if self._fatal:
            self.limit = 0

    def _drain(self) -> None:
        rows = self.rows
        if self.sink.blocked() is not None:
            self.limit = 0
            return
        while rows:
            n = min(len(rows), _MAX_ROWS_PER_WRITE)
            pop = rows.popleft
            points = [pop() for _ in range(n)]
            # Timestamps were taken as float milliseconds on the hot path; the store wants ints.
            batch = [(r, k, v, int(t), s) for r, k, v, t, s in points]
            try:
                self.sink.write(batch)
            except Exception as error:
                if not _retryable(error):
                    # Refused for good (e.g. the run was deleted): keeping them would fail forever.
                    _log.warning("notebook-tracker dropped %d metric points: %s", len(batch), error)
                    self._dropped = error
                    continue
                rows.extendleft(reversed(batch))
                self._failed(error)
                return
            if self._failure is not None:
                self._failure, self._fatal = None, False
                self.limit = self.max_points
            for listener in tuple(self.listeners):
                try:
                    listener(batch)
                except Exception:
                    _log.debug("metric listener failed", exc_info=True)
        if self.sink.blocked() is not None:
            self.limit = 0

    def _run(self) -> None:
        last_beat = time.monotonic()
        while not self.stopped:
            self._wake.wait(flush_interval())
            self._wake.clear()
            with self._write_lock:
                if self.rows:
                    self._drain()
                try:
                    self.sink.tick()
                except Exception as error:  # the next tick retries; flush() reports it
                    _log.warning("notebook-tracker could not replay kept metrics: %s", error)
            if time.monotonic() - last_beat >= HEARTBEAT_INTERVAL_S:
                last_beat = time.monotonic()
                try:
                    self.store.heartbeat(self._open_runs())
                except Exception as error:  # a missed heartbeat is harmless; the next one retries
                    _log.debug("heartbeat failed: %s", error)

    def close(self) -> None:
        self.stopped = True
        self._wake.set()
        self.flush(raise_errors=False)
        with self._write_lock:
            self.sink.close()
            if self.rows:
                _log.warning(
                    "notebook-tracker: %d metric points could not be written to %s and are lost "
                    "with this process: %s",
                    len(self.rows),
                    _where(self.store),
                    self._failure or self.sink.blocked(),
                )


_buffers: dict[int, MetricBuffer] = {}
_buffers_lock = threading.Lock()


def buffer_for(store: TrackingStore, open_runs: Callable[[], list[str]]) -> MetricBuffer:
    with _buffers_lock:
        buf = _buffers.get(id(store))
        if buf is None or buf.stopped:
            buf = _buffers[id(store)] = MetricBuffer(store, open_runs)
        return buf


def flush_all(raise_errors: bool = True) -> None:
    run_jobs.wait_all()  # what runs log in the background is written before it is read
    for buf in list(_buffers.values()):
        buf.flush(raise_errors=raise_errors)


def _reset_after_fork() -> None:
    # The flusher thread does not survive a fork; the child starts its own on first use. The
    # child lets go of the parent's journal files, so they can be adopted once the parent dies.
    for buf in _buffers.values():
        forget = getattr(buf.sink, "forget_after_fork", None)
        if forget is not None:
            forget()
    _buffers.clear()


@atexit.register
def _flush_at_exit() -> None:
    for buf in list(_buffers.values()):
        try:
            buf.close()
        except Exception as error:  # exiting: say what is left, never a traceback
            _log.warning("notebook-tracker could not write metrics at exit: %s", error)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

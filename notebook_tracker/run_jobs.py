"""Work that belongs to a run, done off the caller's thread (autologging's model writes).

One daemon thread runs the jobs in the order they were submitted. What was logged is there when
it is read: a run's end waits for the run's jobs (`fluent.end_run`), reads through the fluent
API and the client wait for them (`wait`, `wait_all`), and so do `nt.flush()` and interpreter
exit. A run whose owner called `defer_end` (autologging's own one-fit runs) is not waited for:
its end is queued behind its jobs, so the fit returns at once and the run is FINISHED only once
its model is written. A job reports its own failures (a warning); one that raises anyway is
logged, never lost silently, and never stops the jobs after it.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import Counter, deque
from collections.abc import Callable

from notebook_tracker.lazy_log import LazyLogger

_log = LazyLogger(__name__)

_cond = threading.Condition()
_queue: deque[tuple[str, Callable[[], None]]] = deque()
_pending: Counter[str] = Counter()  # run id -> jobs submitted and not yet finished
_deferrable: set[str] = set()
_worker: threading.Thread | None = None
_exit_hooked = False


def in_worker() -> bool:
    """True inside a job (it must not wait for the jobs, itself among them)."""
    return _worker is not None and threading.current_thread() is _worker


def submit(run_id: str, job: Callable[[], None]) -> None:
    """Run `job()` in the background, after the jobs submitted before it."""
    global _worker, _exit_hooked
    with _cond:
        _queue.append((run_id, job))
        _pending[run_id] += 1
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="notebook-tracker-run-jobs", daemon=True)
            _worker.start()
        if not _exit_hooked:
            # Registered after the metric buffer's own exit hook, so it runs before it:
            # a deferred run end still has its buffer to write through.
            atexit.register(wait_all)
            _exit_hooked = True
        _cond.notify_all()


def pending(run_id: str) -> bool:
    return _pending[run_id] > 0


def defer_end(run_id: str) -> None:
    """Let `run_id`'s end wait behind its jobs instead of making its ender wait."""
    with _cond:
        _deferrable.add(run_id)


def end_after_jobs(run_id: str, end: Callable[[], None]) -> bool:
    """For `end_run`: True when `end` was queued behind the run's jobs (a deferrable run with
    jobs pending); otherwise wait for the run's jobs and return False (the caller ends it)."""
    with _cond:
        deferred = run_id in _deferrable
        _deferrable.discard(run_id)
        if deferred and _pending[run_id] > 0 and not in_worker():
            submit(run_id, end)
            return True
    try:
        wait(run_id)
    except BaseException:
        submit(run_id, end)  # interrupted while waiting: the run still ends after its work
        raise
    return False


def wait(run_id: str) -> None:
    """Until the jobs of `run_id` submitted so far are done (not inside a job)."""
    if in_worker():
        return
    with _cond:
        while _pending[run_id] > 0:
            _cond.wait()


def wait_all() -> None:
    """Until every job submitted so far is done (not inside a job)."""
    if in_worker():
        return
    with _cond:
        while _queue or any(n > 0 for n in _pending.values()):
            _cond.wait()


def _work() -> None:
    while True:
        with _cond:
            while not _queue:
                _cond.wait()
            run_id, job = _queue.popleft()
        try:
            job()
        except Exception:
            _log.warning("notebook-tracker: background work for run %s failed", run_id,
                         exc_info=True)  # fmt: skip
        finally:
            with _cond:
                _pending[run_id] -= 1
                if _pending[run_id] <= 0:
                    del _pending[run_id]
                _cond.notify_all()


def _reset_after_fork() -> None:
    # The worker does not survive a fork; the child's copies of the parent's jobs are not its own.
    global _worker, _cond
    _cond = threading.Condition()
    _queue.clear()
    _pending.clear()
    _deferrable.clear()
    _worker = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

"""Waiting for a call channel's answer: polling the socket for a short while, then sleeping.

A synchronous call to a server on the same machine is answered in 0.2-0.5 ms, most of it the
server's durable commit. Sleeping in `recv` meanwhile adds about a third to that: the thread is
parked, its CPU halts, and the answer has to wake it on another CPU (an inter-processor
interrupt; on a VM, an exit to the hypervisor as well). Measured with a bare client, 2,000
`set_tag`s through our server: 0.40-0.42 ms a call asleep, 0.28-0.30 polling.

So after sending a call, its thread polls the socket without sleeping, yielding its CPU to any
other thread that wants it on each turn, until the answer is there or the budget (1 ms) has
passed; then it sleeps in `recv` as before. The price is that thread's CPU for the time it
waits (at most the budget a call), where it would have slept. It is bounded:
- a connection whose answer took longer than the budget (a busy disk, a distant server) stops
  polling, and starts again after an answer that came within the budget while it slept;
- never on a machine with one CPU, where the poller would hold the CPU the server needs, and
  in one process at most one thread fewer than its CPUs polls at a time (the others sleep);
- `NOTEBOOK_TRACKER_SPIN_WAIT_US=0` turns it off; another value sets the budget in microseconds.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time

from notebook_tracker import env

DEFAULT_SPIN_US = 1000
_pollers = 0  # this process's threads polling now
_max_pollers = 1
_pollers_lock = threading.Lock()


def spin_budget_s() -> float:
    """Seconds a call may poll for its answer (0: never), from the environment and the CPUs."""
    global _max_pollers
    if not hasattr(select, "poll") or not hasattr(os, "sched_yield"):
        return 0.0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return 0.0
    _max_pollers = (cpus or 1) - 1
    return env.spin_wait_us(DEFAULT_SPIN_US) / 1e6


class AnswerWait:
    """How one call channel's thread waits for its answers (one per connection: one thread)."""

    __slots__ = ("_budget", "_poll", "polling")

    def __init__(self, sock: socket.socket, budget_s: float) -> None:
        self._budget = budget_s
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self.polling = budget_s > 0  # whether the next wait polls first

    def until_readable(self) -> float:
        """Call right after sending: poll until the answer can be read or the budget is spent
        (the caller's `recv` then sleeps for the rest). Returns when the wait began, for
        `answered`."""
        global _pollers
        began = time.perf_counter()
        if not self.polling:
            return began
        with _pollers_lock:
            if _pollers >= _max_pollers:
                return began  # enough of this process's threads poll already: sleep
            _pollers += 1
        try:
            deadline = began + self._budget
            poll, now, yield_cpu = self._poll.poll, time.perf_counter, os.sched_yield
            while not poll(0):
                if now() > deadline:
                    self.polling = False  # slower than the budget: sleep until quick again
                    break
                yield_cpu()
        finally:
            with _pollers_lock:
                _pollers -= 1
        return began

    def answered(self, began: float) -> None:
        """The answer was read: poll again if it came within the budget while asleep."""
        if not self.polling and self._budget > 0 and time.perf_counter() - began <= self._budget:
            self.polling = True


__all__ = ["DEFAULT_SPIN_US", "AnswerWait", "spin_budget_s"]

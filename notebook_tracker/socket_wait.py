"""Waiting on a socket by polling it for a short while, then sleeping: both ends of the call
channel, around a synchronous call.

A synchronous call to a server on the same machine is answered in 0.2-0.5 ms, most of it the
server's durable commit, and a client in a loop sends its next call tens of µs after an
answer. Sleeping through such a wait adds more than the wait: the thread is parked, its CPU
halts, and the bytes it waits for have to wake it on another CPU (an inter-processor
interrupt; on a VM, an exit to the hypervisor as well), where its caches are cold. Measured
on this project's 2-vCPU VM, 2,000 `set_tag`s through our server: a bare client took 0.40-0.42
ms a call asleep and 0.28-0.30 polling; our client 0.37 ms against 0.32 with the server also
polling for the next frame.

So a wait polls the socket without sleeping (`poll(0)`, yielding the CPU to any other thread
that wants it on each turn) until it is readable or the budget has passed, then the caller's
read sleeps as before. The price is the thread's CPU for as long as it polls, where it would
have slept. It is bounded:
- a wait that spends its whole budget stops the next waits from polling, until something
  arrives within the budget while asleep (a slow server, or a client that pauses between
  calls, costs one budget per slow spell);
- never on a machine with one CPU, where the poller would hold the CPU the other end needs,
  and in one process at most one thread fewer than its CPUs polls at a time (the others sleep);
- `NOTEBOOK_TRACKER_SPIN_WAIT_US=0` turns polling off everywhere; another value sets every
  budget, in microseconds (the defaults: a client's answer 1 ms, a server's next frame 0.3 ms).
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time

from notebook_tracker import env

ANSWER_US = 1000  # a client waiting for the answer to its call
NEXT_FRAME_US = 300  # a server waiting for a lone client's next call, after answering one
_pollers = 0  # this process's threads polling now
_max_pollers = 1
_pollers_lock = threading.Lock()


def spin_budget_s(default_us: int) -> float:
    """Seconds a wait may poll (0: never), from the environment and the CPUs."""
    global _max_pollers
    if not hasattr(select, "poll") or not hasattr(os, "sched_yield"):
        return 0.0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return 0.0
    _max_pollers = (cpus or 1) - 1
    return env.spin_wait_us(default_us) / 1e6


class SocketWait:
    """How one thread waits for bytes on one socket: polling first while that has paid."""

    __slots__ = ("_budget", "_poll", "polling")

    def __init__(self, sock: socket.socket | int, budget_s: float) -> None:
        self._budget = budget_s
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self.polling = budget_s > 0  # whether the next wait polls first

    def readable(self) -> bool:
        """Whether the socket can be read now (never waits)."""
        return bool(self._poll.poll(0))

    def until_readable(self) -> float:
        """Poll until the socket can be read or the budget is spent (the caller's read then
        sleeps for the rest). Returns when the wait began, for `arrived`."""
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

    def arrived(self, began: float) -> None:
        """What was waited for since `began` has been read: poll again next time if it came
        within the budget while asleep."""
        if not self.polling and self._budget > 0 and time.perf_counter() - began <= self._budget:
            self.polling = True


__all__ = ["ANSWER_US", "NEXT_FRAME_US", "SocketWait", "spin_budget_s"]

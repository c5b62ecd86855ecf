"""Child processes that end with their parent: a served model must not outlive the kernel or
server that started it, even when that parent is killed without cleaning up."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send `sig` to this process when its parent dies; False elsewhere.

    The kernel ties this to the parent *thread*: only use it when the parent spawned us
    from a thread that lives as long as the process (its main thread).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """End this process when `parent_pid` is no longer its parent (it died, we were reparented).

    A daemon thread polls: this is the portable fallback to the death signal, and covers the
    race where the parent died before the signal was set.
    """
    if os.getppid() != parent_pid:
        os._exit(0)

    def _watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=_watch, name="nt-parent-watch", daemon=True).start()

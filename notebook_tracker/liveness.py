"""Who owns a RUNNING run, and whether that owner is provably gone."""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def hostname() -> str:
    if hasattr(os, "uname"):  # what gethostname(2) returns, without importing socket (~2 ms)
        return os.uname().nodename
    import socket

    return socket.gethostname()


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of a process, which tells a live PID from a reused one."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])


@lru_cache(maxsize=1)
def current_owner() -> tuple[str, int, int | None]:
    pid = os.getpid()
    return hostname(), pid, process_start_ticks(pid)


def owner_is_gone(host: str | None, pid: int | None, started: int | None) -> bool:
    """True only when the owner ran on this host and that process no longer exists."""
    if host != hostname() or not pid:
        return False
    if os.path.isdir("/proc"):
        now_started = process_start_ticks(pid)
        if now_started is None:
            return True
        return started is not None and now_started != started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _forget_owner_after_fork() -> None:
    current_owner.cache_clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_owner_after_fork)

"""SQLITE_BUSY that SQLite returns at once, despite the busy timeout: retried with jitter.

SQLite's busy handler covers the ordinary case (another process holds the write lock: wait up
to the 30 s timeout). A few races return SQLITE_BUSY without calling it: a connection that
finds the WAL being recovered or restarted by a checkpoint, or a new file being switched to WAL
by another process. Those pass within milliseconds, so a statement that is safe to repeat
(BEGIN, a PRAGMA) is retried a few times with random backoff; a busy error that did wait for
the timeout is a lasting lock and is raised at once.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

RETRIES = 8
# A failure quicker than this did not wait on the busy handler (the timeout is 30 s).
FAST_FAILURE_S = 1.0
MAX_BACKOFF_S = 0.5


def is_busy(error: BaseException) -> bool:
    """SQLITE_BUSY and its extended codes, as Python's sqlite3 words them."""
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text


def retrying(run: Callable[[], T], fast_failure_s: float = FAST_FAILURE_S) -> T:
    """`run()`, repeated while it fails fast with SQLITE_BUSY (at most RETRIES times)."""
    for attempt in range(RETRIES):
        started = time.monotonic()
        try:
            return run()
        except sqlite3.OperationalError as error:
            waited = time.monotonic() - started
            if not is_busy(error) or waited >= fast_failure_s or attempt == RETRIES - 1:
                raise
        # Random, so processes that failed together do not retry together.
        time.sleep(random.uniform(0, min(MAX_BACKOFF_S, 0.005 * 2**attempt)))
    raise AssertionError("unreachable")  # the loop returns or raises

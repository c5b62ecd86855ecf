"""Python's cyclic garbage collector paused while a big read builds its objects.

A 100,000-run read makes a few million tuples, strings and floats, none in a cycle; each
700 new containers start a collection, and the older generations' collections walk every
object still alive, so about a tenth of the read's CPU went to finding no garbage.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Below this many runs a read makes too few objects for the collector to matter.
PAUSE_FROM = 2_000


@contextmanager
def gc_paused(runs: int) -> Iterator[None]:
    """The collector off for the block when reading `runs` runs or more (and it was on)."""
    if runs < PAUSE_FROM or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


__all__ = ["PAUSE_FROM", "gc_paused"]

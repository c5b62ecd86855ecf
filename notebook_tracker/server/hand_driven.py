"""Coroutines started by hand: a request's answer is run at once (`coro.send(None)`) rather
than as a task, since a lone SQLite write never waits and is answered before the loop turns
(fast_calls.py, call_channel.py); only one that does wait is handed to `go_on`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def go_on(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive `coro`, started by hand and now waiting on `waiting`, to its end: each time what
    it waits on is done, resume it (its own `await` reads the outcome, error included)."""
    while True:
        if waiting is None:  # a bare yield (asyncio.sleep(0))
            await asyncio.sleep(0)
        else:
            # What the coroutine yielded is marked as awaited by it; awaiting it here again
            # takes clearing that mark, as an asyncio Task does.
            waiting._asyncio_future_blocking = False  # noqa: SLF001 (the protocol asyncio reads)
            with contextlib.suppress(Exception):
                await waiting
        try:
            waiting = coro.send(None)
        except StopIteration:
            return


__all__ = ["go_on"]

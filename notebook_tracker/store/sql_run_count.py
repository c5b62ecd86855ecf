"""How many runs a search matches, for a list that shows only the first of them (the sidebar).

Counting is a scan of every matching run, so it is done only when asked, and stops at `cap`:
past it the caller learns "more than `cap`" (a lower bound), not a figure that took seconds.
A filter the indexes do not serve can make the scan slow however few runs match (a param
compared on a million runs: ~14 s on SQLite), so on SQLite the count also gives up after
`budget_s` and says it does not know.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.exc import OperationalError

from notebook_tracker.entities import ViewType
from notebook_tracker.errors import TrackerError
from notebook_tracker.store.sql_search import run_search

# Counting a million matching runs took about a second on SQLite (2 cores, warm cache).
DEFAULT_CAP = 1_000_000
DEFAULT_BUDGET_S = 3.0
# SQLite virtual-machine steps between two looks at the clock.
_STEPS = 20_000


def count_runs(
    store: Any,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    run_view_type: str,
    cap: int = DEFAULT_CAP,
    budget_s: float = DEFAULT_BUDGET_S,
) -> tuple[int | None, bool]:
    """(runs matching, exact): `exact` is False when more than `cap` match (then `cap` is
    returned); (None, False) when SQLite took longer than `budget_s`. Raises FilterSyntaxError
    for a filter that does not parse, as a search would."""
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    # No order: the joins an order needs are not needed to count.
    search = run_search(
        [str(e) for e in experiment_ids], ViewType.stages(run_view_type), filter_string, None
    )
    matching = (
        select(literal(1)).select_from(search.from_).where(*search.where).limit(cap + 1).subquery()
    )
    with store.reader.connect() as conn:
        raw = conn.connection.driver_connection
        sqlite = conn.dialect.name == "sqlite"
        deadline = time.monotonic() + budget_s
        if sqlite:
            raw.set_progress_handler(lambda: time.monotonic() > deadline, _STEPS)
        try:
            n = int(conn.execute(select(func.count()).select_from(matching)).scalar_one())
        except (OperationalError, TrackerError):  # the store words "interrupted" as its own error
            if sqlite and time.monotonic() > deadline:
                return None, False
            raise
        finally:
            if sqlite:
                raw.set_progress_handler(None, 0)
    return min(n, cap), n <= cap
